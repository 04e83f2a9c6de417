// Introspection (RFC 7662) and revocation (RFC 7009) of JWT access tokens (RFC 9068) for APIs:
// resource-server clients, each state that makes a JWT inactive, and revocation seen by another
// instance on the same database (src/oidc/jwt-access-tokens.ts).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { generateKeyPair, SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { createApi } from '../../src/clients/apis.js';
import { createClient, setClientDisabled } from '../../src/clients/registry.js';
import { revokeUserGrants } from '../../src/oidc/user-grants.js';
import { sweepExpiredRows } from '../../src/db/sweeper.js';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { refresh, signInOffline, waitUntilPast } from '../support/refresh.js';
import { auditRows, authorizeAndSignIn, exchangeCode, expectPage, formWithAction, registerClient, registerUser, TestBrowser, type TestClient } from '../support/signin.js';
import { useGatehouse } from '../support/use-gatehouse.js';

jest.setTimeout(120_000);

const ORDERS = 'https://api.example.com/orders';
const BILLING = 'https://api.example.com/billing';
const SHORT = 'https://api.example.com/short-lived';
const RFC_7662_MEMBERS = ['active', 'scope', 'client_id', 'sub', 'aud', 'iss', 'exp', 'iat', 'token_type'].sort();

describe.each(PROVIDERS)('JWT access tokens at introspection and revocation on %s', (provider) => {
  // No grace for a rotated refresh token: its reuse revokes the grant at once.
  const gh = useGatehouse(provider, { REFRESH_TOKEN_REUSE_GRACE: '0' });
  let url: ReturnType<typeof endpoints>;
  let service: { id: string; auth: string };
  let other: { id: string; auth: string };
  let ordersRs: { id: string; auth: string };
  let billingRs: { id: string; auth: string };
  let web: TestClient;
  let webAuth: string;

  const introspect = (token: string, auth: string) => postForm(url.introspection, { token }, { authorization: auth });
  const revoke = (token: string, auth: string) => postForm(url.revocation, { token }, { authorization: auth });
  const clientCredentials = async (auth: string, extra: Record<string, string> = {}) => {
    const res = await postForm(url.token, { grant_type: 'client_credentials', ...extra }, { authorization: auth });
    expect(res.status).toBe(200);
    return res.body.access_token as string;
  };
  const credentialsOf = (created: { client: { client_id: string }; clientSecret?: string }) => ({
    id: created.client.client_id,
    auth: basicAuth(created.client.client_id, created.clientSecret!),
  });

  beforeAll(async () => {
    url = endpoints(gh);
    const prisma = gh.db.prisma;
    await createApi(prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    await createApi(prisma, { identifier: BILLING, name: 'Billing', scopes: ['billing:read'] });
    const serviceFor = (name: string) =>
      createClient(prisma, { name, profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }, { identifier: BILLING, scopes: ['billing:read'] }], default_api: ORDERS });
    service = credentialsOf(await serviceFor('service'));
    other = credentialsOf(await serviceFor('other'));
    ordersRs = credentialsOf(await createClient(prisma, { name: 'Orders API', profile: 'resource-server', default_api: ORDERS }));
    billingRs = credentialsOf(await createClient(prisma, { name: 'Billing API', profile: 'resource-server', default_api: BILLING }));
    web = await registerClient(gh, { apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    webAuth = basicAuth(web.clientId, web.clientSecret!);
  });

  test('a resource server introspects a token for its API: active, with the RFC 7662 members only', async () => {
    const jwt = await clientCredentials(service.auth, { scope: 'orders:read' });
    const claims = decodeJwt(jwt);
    const res = await introspect(jwt, ordersRs.auth);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toEqual({
      active: true,
      scope: 'orders:read',
      client_id: service.id,
      sub: service.id,
      aud: ORDERS,
      iss: gh.config.issuer,
      exp: claims.exp,
      iat: claims.iat,
      token_type: 'Bearer',
    });
    expect(Object.keys(res.body).sort()).toEqual(RFC_7662_MEMBERS);
    // The client may still introspect its own token.
    expect((await introspect(jwt, service.auth)).body).toMatchObject({ active: true, client_id: service.id });
  });

  test('a token for another API, or another client\'s token, reads exactly as an unknown one', async () => {
    const forOrders = await clientCredentials(service.auth, { scope: 'orders:read' });
    const forBilling = await clientCredentials(service.auth, { resource: BILLING, scope: 'billing:read' });
    expect((await introspect(forBilling, billingRs.auth)).body).toMatchObject({ active: true, aud: BILLING });
    const unknown = await introspect('no-such-token', ordersRs.auth);
    expect(unknown.body).toEqual({ active: false });
    for (const [token, auth] of [
      [forBilling, ordersRs.auth],
      [forOrders, billingRs.auth],
      [forOrders, other.auth],
    ] as const) {
      const res = await introspect(token, auth);
      expect({ status: res.status, body: res.body }).toEqual({ status: unknown.status, body: unknown.body });
    }
  });

  test('a JWT signed with a key not ours is inactive, even with our kid and claims', async () => {
    const jwt = await clientCredentials(service.auth, { scope: 'orders:read' });
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT(decodeJwt(jwt)).setProtectedHeader(decodeProtectedHeader(jwt) as { alg: string }).sign(privateKey);
    for (const auth of [ordersRs.auth, service.auth]) expect((await introspect(forged, auth)).body).toEqual({ active: false });
    // Nor can it be revoked: the real token stays active.
    expect((await revoke(forged, service.auth)).status).toBe(200);
    expect((await introspect(jwt, ordersRs.auth)).body).toMatchObject({ active: true });
  });

  test('a revoked JWT is inactive; revoking twice is fine; only its own client can revoke it', async () => {
    const jwt = await clientCredentials(service.auth, { scope: 'orders:read' });
    const foreign = await revoke(jwt, other.auth);
    expect({ status: foreign.status, body: foreign.body }).toEqual({ status: 200, body: {} });
    expect((await introspect(jwt, ordersRs.auth)).body).toMatchObject({ active: true });
    expect(await auditRows(gh, 'revocation.refused', { clientId: other.id })).toHaveLength(1);

    // Fifteen at once: one insert wins, the others meet its key and answer the same.
    const results = await Promise.all(Array.from({ length: 15 }, () => revoke(jwt, service.auth)));
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 15 }, () => 200));
    expect((await revoke(jwt, service.auth)).status).toBe(200);
    expect((await introspect(jwt, ordersRs.auth)).body).toEqual({ active: false });
    expect((await introspect(jwt, service.auth)).body).toEqual({ active: false });
    const row = await gh.db.prisma.revokedAccessToken.findUnique({ where: { jti: String(decodeJwt(jwt).jti) } });
    expect(row?.expiresAt.getTime()).toBe(Number(decodeJwt(jwt).exp) * 1000);
    // A token for another API issued to the same client is untouched.
    expect((await introspect(await clientCredentials(service.auth, { scope: 'orders:read' }), ordersRs.auth)).body).toMatchObject({ active: true });
  });

  test('a disabled client\'s JWTs are inactive, and active again once it is enabled', async () => {
    const created = credentialsOf(await createClient(gh.db.prisma, { name: 'to disable', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS }));
    const jwt = await clientCredentials(created.auth, { scope: 'orders:read' });
    expect((await introspect(jwt, ordersRs.auth)).body).toMatchObject({ active: true });
    await setClientDisabled(gh.db.prisma, created.id, true);
    expect((await introspect(jwt, ordersRs.auth)).body).toEqual({ active: false });
    await setClientDisabled(gh.db.prisma, created.id, false);
    expect((await introspect(jwt, ordersRs.auth)).body).toMatchObject({ active: true });
  });

  test('a person\'s JWT: active with its subject; inactive once the user is disabled, and once the grant is revoked', async () => {
    const user = await registerUser(gh);
    const signedIn = await signInOffline(gh, web, user.email, 'openid offline_access orders:read');
    const jwt = signedIn.accessToken;
    expect(decodeProtectedHeader(jwt).typ).toBe('at+jwt');
    expect((await introspect(jwt, ordersRs.auth)).body).toMatchObject({ active: true, sub: user.id, client_id: web.clientId, aud: ORDERS, scope: 'orders:read' });
    expect((await introspect(jwt, webAuth)).body).toMatchObject({ active: true, sub: user.id });

    await gh.db.prisma.user.update({ where: { id: user.id }, data: { disabled: true } });
    expect((await introspect(jwt, ordersRs.auth)).body).toEqual({ active: false });
    await gh.db.prisma.user.update({ where: { id: user.id }, data: { disabled: false } });
    expect((await introspect(jwt, ordersRs.auth)).body).toMatchObject({ active: true });

    // `user revoke` (src/oidc/user-grants.ts) deletes the grant the token came from.
    expect(await revokeUserGrants(gh.db.prisma, user.id)).toBe(1);
    expect((await introspect(jwt, ordersRs.auth)).body).toEqual({ active: false });
  });

  test('a person\'s JWT is inactive after refresh-token reuse revokes its grant', async () => {
    const user = await registerUser(gh);
    const signedIn = await signInOffline(gh, web, user.email, 'openid offline_access orders:read');
    const refreshed = await refresh(gh, web, signedIn.refreshToken);
    expect(refreshed.status).toBe(200);
    const jwt = refreshed.body.access_token as string;
    expect((await introspect(jwt, ordersRs.auth)).body).toMatchObject({ active: true });
    // The rotated-away refresh token comes back: the grant is revoked (src/oidc/refresh-tokens.ts).
    expect((await refresh(gh, web, signedIn.refreshToken)).status).toBe(400);
    expect((await introspect(jwt, ordersRs.auth)).body).toEqual({ active: false });
  });

  test('a person\'s JWT is inactive after its authorization code is replayed (the grant is revoked)', async () => {
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, browser, web, user.email, { scope: 'openid orders:read' });
    const first = await exchangeCode(gh, web, callback.code!, verifier);
    expect(first.status).toBe(200);
    const jwt = first.body.access_token as string;
    expect((await introspect(jwt, ordersRs.auth)).body).toMatchObject({ active: true, sub: user.id });
    expect((await exchangeCode(gh, web, callback.code!, verifier)).status).toBe(400);
    expect((await introspect(jwt, ordersRs.auth)).body).toEqual({ active: false });
  });

  test('a person\'s JWT is inactive after they sign out (logout revokes the grant)', async () => {
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, browser, web, user.email, { scope: 'openid orders:read' });
    const tokens = await exchangeCode(gh, web, callback.code!, verifier);
    const jwt = tokens.body.access_token as string;
    expect((await introspect(jwt, ordersRs.auth)).body).toMatchObject({ active: true });
    const endSession = new URL(`${gh.config.issuer}/session/end`);
    endSession.searchParams.set('id_token_hint', tokens.body.id_token as string);
    const form = formWithAction(expectPage(await browser.get(endSession)).html, '/session/end/confirm');
    // No post_logout_redirect_uri: Gatehouse's own signed-out page.
    expect(expectPage(await browser.post(form.action, { ...form.fields, logout: 'yes' })).status).toBe(200);
    expect(await auditRows(gh, 'logout', { subject: user.id })).toHaveLength(1);
    expect((await introspect(jwt, ordersRs.auth)).body).toEqual({ active: false });

    expect((await introspect(jwt, ordersRs.auth)).body).toEqual({ active: false });
  });

  test('an expired JWT is inactive, and its revocation row is swept after expiry', async () => {
    await createApi(gh.db.prisma, { identifier: SHORT, name: 'Short', scopes: ['short:read'] });
    // Below what the registry allows, so that the test waits one second, not one minute.
    await gh.db.prisma.api.update({ where: { identifier: SHORT }, data: { accessTokenTtl: 1 } });
    const shortLived = credentialsOf(await createClient(gh.db.prisma, { name: 'short', profile: 'service', apis: [{ identifier: SHORT, scopes: ['short:read'] }], default_api: SHORT }));
    const shortRs = credentialsOf(await createClient(gh.db.prisma, { name: 'Short API', profile: 'resource-server', default_api: SHORT }));
    const jwt = await clientCredentials(shortLived.auth);
    const revokedJwt = await clientCredentials(shortLived.auth);
    expect((await revoke(revokedJwt, shortLived.auth)).status).toBe(200);
    const jti = String(decodeJwt(revokedJwt).jti);
    expect(await gh.db.prisma.revokedAccessToken.count({ where: { jti } })).toBe(1);
    await waitUntilPast(Number(decodeJwt(jwt).exp));
    expect((await introspect(jwt, shortRs.auth)).body).toEqual({ active: false });
    await waitUntilPast(Number(decodeJwt(revokedJwt).exp));
    await sweepExpiredRows(gh.db.prisma, 3600);
    expect(await gh.db.prisma.revokedAccessToken.count({ where: { jti } })).toBe(0);
    // Grant cut-offs (sign-out) outlive the longest access token, then go too.
    expect(await gh.db.prisma.grantAccessTokenCutoff.count()).toBeGreaterThan(0);
    await sweepExpiredRows(gh.db.prisma, 10 * 365 * 86_400, new Date(Date.now() + (86_400 + 60) * 1000));
    expect(await gh.db.prisma.grantAccessTokenCutoff.count()).toBe(0);
  });

  describe('two instances on one database', () => {
    let second: TestGatehouse;
    beforeAll(async () => {
      // One issuer for the deployment, as in production; each instance on its own port.
      second = await startGatehouse(provider, { ISSUER: gh.config.issuer }, gh.database);
    });
    afterAll(async () => {
      await second?.close();
    });

    test('a JWT revoked on one instance is inactive when introspected on the other', async () => {
      const jwt = await clientCredentials(service.auth, { scope: 'orders:read' });
      const secondUrl = { introspection: `http://127.0.0.1:${second.config.port}/token/introspection` };
      expect((await postForm(secondUrl.introspection, { token: jwt }, { authorization: ordersRs.auth })).body).toMatchObject({ active: true });
      expect((await revoke(jwt, service.auth)).status).toBe(200);
      expect((await postForm(secondUrl.introspection, { token: jwt }, { authorization: ordersRs.auth })).body).toEqual({ active: false });
    });
  });
});
