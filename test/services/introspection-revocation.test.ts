// Introspection (RFC 7662), revocation (RFC 7009) and per-client CORS on the token, introspection
// and revocation endpoints.
//
// Stored tokens (refresh tokens, opaque access tokens) can be introspected and revoked. JWT access
// tokens for APIs are not stored; src/oidc/jwt-access-tokens.ts answers both endpoints for them
// (test/services/jwt-introspection.test.ts).
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { auditRows } from '../support/signin.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { mintUserTokens } from '../support/user-tokens.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const ORDERS = 'https://api.example.com/orders';
const APP_ORIGIN = 'https://app.example.com';
const OTHER_APP_ORIGIN = 'https://other-app.example.com';
const EVIL_ORIGIN = 'https://evil.example.com';

describe.each(PROVIDERS)('introspection, revocation and CORS on %s', (provider) => {
  const gh = useGatehouse(provider);
  let url: ReturnType<typeof endpoints>;
  let app: { id: string; auth: string };
  let other: { id: string; auth: string };
  let spa: { id: string };

  const introspect = (token: string, auth: string, headers: Record<string, string> = {}) =>
    postForm(url.introspection, { token }, { authorization: auth, ...headers });
  const revoke = (token: string, auth: string, headers: Record<string, string> = {}) =>
    postForm(url.revocation, { token }, { authorization: auth, ...headers });

  beforeAll(async () => {
    url = endpoints(gh);
    const prisma = gh.db.prisma;
    await createApi(prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const webClient = (name: string, origin: string) =>
      createClient(prisma, {
        name,
        profile: 'web',
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        redirect_uris: [`${origin}/callback`],
        scope: ['openid', 'offline_access'],
        cors_origins: [origin],
        apis: [{ identifier: ORDERS, scopes: ['orders:read'] }],
        default_api: ORDERS,
      });
    const a = await webClient('app', APP_ORIGIN);
    app = { id: a.client.client_id, auth: basicAuth(a.client.client_id, a.clientSecret!) };
    const o = await webClient('other', OTHER_APP_ORIGIN);
    other = { id: o.client.client_id, auth: basicAuth(o.client.client_id, o.clientSecret!) };
    const s = await createClient(prisma, { name: 'spa', profile: 'spa', redirect_uris: [`${APP_ORIGIN}/spa`], scope: ['openid', 'offline_access'], cors_origins: [APP_ORIGIN] });
    spa = { id: s.client.client_id };
  });

  describe('introspection and revocation of stored tokens', () => {
    test('a refresh token is active, then inactive after revocation, and the grant goes with it', async () => {
      const { refreshToken, accessToken, accountId } = await mintUserTokens(gh, app.id);

      const active = await introspect(refreshToken, app.auth);
      expect(active.status).toBe(200);
      expect(active.headers.get('cache-control')).toBe('no-store');
      expect(active.body).toMatchObject({ active: true, client_id: app.id, sub: accountId, scope: 'openid offline_access', iss: gh.config.issuer });
      expect(active.body.exp).toEqual(expect.any(Number));
      expect((await introspect(accessToken, app.auth)).body).toMatchObject({ active: true, client_id: app.id, token_type: 'Bearer' });

      const revoked = await revoke(refreshToken, app.auth);
      expect(revoked.status).toBe(200);

      expect((await introspect(refreshToken, app.auth)).body).toEqual({ active: false });
      // Revoking a refresh token revokes its grant (RFC 7009 §2.1 "SHOULD also invalidate all
      // access tokens based on the same authorization grant").
      expect((await introspect(accessToken, app.auth)).body).toEqual({ active: false });
    });

    test('an opaque access token can be revoked', async () => {
      const { accessToken } = await mintUserTokens(gh, app.id);
      expect((await revoke(accessToken, app.auth)).status).toBe(200);
      expect((await introspect(accessToken, app.auth)).body).toEqual({ active: false });
    });

    test("finding 15.9: another client cannot see or revoke a client's token, nor tell it from an unknown one", async () => {
      const { refreshToken, accessToken, accountId } = await mintUserTokens(gh, app.id);
      // RFC 7662 §2.2 / §4: reported as inactive, so the endpoint cannot probe for tokens.
      expect((await introspect(refreshToken, other.auth)).body).toEqual({ active: false });
      // RFC 7009 §2.1: nothing is revoked; §2.2: the answer is the one an unknown token gets.
      const unknown = await revoke('no-such-token', other.auth);
      for (const token of [refreshToken, accessToken]) {
        const refused = await revoke(token, other.auth);
        expect({ status: refused.status, body: refused.body }).toEqual({ status: unknown.status, body: unknown.body });
        expect(refused.status).toBe(200);
      }
      expect((await introspect(refreshToken, app.auth)).body).toMatchObject({ active: true });
      expect((await introspect(accessToken, app.auth)).body).toMatchObject({ active: true });
      // The attempt is on the audit trail, naming who asked and whose token it was.
      const rows = await auditRows(gh, 'revocation.refused', { clientId: other.id }, 2);
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({ outcome: 'failure', subject: accountId });
      expect(rows.map((row) => row.details)).toEqual(
        expect.arrayContaining([expect.objectContaining({ token_type: 'RefreshToken', token_client_id: app.id }), expect.objectContaining({ token_type: 'AccessToken' })]),
      );
      expect(JSON.stringify(rows)).not.toContain(refreshToken);
    });

    test("finding 15.9: a public client asking to revoke another client's token is audited too", async () => {
      const { refreshToken } = await mintUserTokens(gh, app.id);
      const res = await postForm(url.revocation, { token: refreshToken, client_id: spa.id });
      expect(res.status).toBe(200);
      expect((await introspect(refreshToken, app.auth)).body).toMatchObject({ active: true });
      expect(await auditRows(gh, 'revocation.refused', { clientId: spa.id })).toHaveLength(1);
    });

    test('an unknown token is inactive; revoking it succeeds (RFC 7009 §2.2)', async () => {
      expect((await introspect('no-such-token', app.auth)).body).toEqual({ active: false });
      expect((await revoke('no-such-token', app.auth)).status).toBe(200);
    });

    test('JWT access tokens are not stored, yet both endpoints accept them (test/services/jwt-introspection.test.ts)', async () => {
      const issued = await postForm(url.token, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: app.auth });
      expect(issued.status).toBe(200);
      const jwt = issued.body.access_token as string;
      expect((await introspect(jwt, app.auth)).body).toMatchObject({ active: true, client_id: app.id, aud: ORDERS });
      const revoked = await revoke(jwt, app.auth);
      expect({ status: revoked.status, body: revoked.body }).toEqual({ status: 200, body: {} });
      expect((await introspect(jwt, app.auth)).body).toEqual({ active: false });
    });

    test('both endpoints require client authentication', async () => {
      const { refreshToken } = await mintUserTokens(gh, app.id);
      const wrong = basicAuth(app.id, `ghs_${'x'.repeat(43)}`);
      for (const res of [await introspect(refreshToken, wrong), await revoke(refreshToken, wrong)]) {
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_client');
        expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      }
      const anonymous = await postForm(url.introspection, { token: refreshToken });
      expect(anonymous.status).toBe(400);
      expect(anonymous.body.error).toBe('invalid_request');
      expect((await introspect(refreshToken, app.auth)).body).toMatchObject({ active: true });
    });

    test('a public client may revoke its own token with its client_id', async () => {
      const { refreshToken } = await mintUserTokens(gh, spa.id);
      const res = await postForm(url.revocation, { token: refreshToken, client_id: spa.id });
      expect(res.status).toBe(200);
      expect((await postForm(url.introspection, { token: refreshToken, client_id: spa.id })).body).toEqual({ active: false });
    });
  });

  describe('CORS answers only the calling client\'s registered origins', () => {
    const routes = [
      ['token', () => url.token, () => ({ grant_type: 'client_credentials' })],
      ['introspection', () => url.introspection, () => ({ token: 'no-such-token' })],
      ['revocation', () => url.revocation, () => ({ token: 'no-such-token' })],
    ] as const;

    describe.each(routes)('%s endpoint', (_name, endpoint, form) => {
      test('a registered origin is answered with that origin', async () => {
        const res = await postForm(endpoint(), form(), { authorization: app.auth, origin: APP_ORIGIN });
        expect(res.status).toBe(200);
        expect(res.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
        expect(res.headers.get('vary')).toMatch(/Origin/i);
      });

      test('an unregistered origin is refused, without CORS headers', async () => {
        const res = await postForm(endpoint(), form(), { authorization: app.auth, origin: EVIL_ORIGIN });
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_request');
        expect(res.headers.get('access-control-allow-origin')).toBeNull();
      });

      test("another client's origin is refused for this client", async () => {
        const res = await postForm(endpoint(), form(), { authorization: app.auth, origin: OTHER_APP_ORIGIN });
        expect(res.status).toBe(400);
        expect(res.headers.get('access-control-allow-origin')).toBeNull();
      });

      test('preflight: answered for a registered origin, refused for an unknown one', async () => {
        const preflight = (origin: string) =>
          fetch(endpoint(), {
            method: 'OPTIONS',
            headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
          });
        const allowed = await preflight(APP_ORIGIN);
        expect(allowed.status).toBe(204);
        expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
        expect(allowed.headers.get('access-control-allow-methods')).toMatch(/POST/);

        const refused = await preflight(EVIL_ORIGIN);
        expect(refused.status).toBe(403);
        expect(refused.headers.get('access-control-allow-origin')).toBeNull();
        expect(refused.headers.get('access-control-allow-methods')).toBeNull();
      });
    });

    test('requests without an Origin are not CORS requests and are unaffected', async () => {
      const res = await postForm(url.token, { grant_type: 'client_credentials' }, { authorization: app.auth });
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    });
  });
});
