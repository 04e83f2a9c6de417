// Client credentials (RFC 6749 §4.4) for registered APIs: every client authentication method,
// RFC 9068 JWT access tokens that verify against the JWKS, secret rotation and expiry, and the
// OAuth errors for everything that must fail.
import { createHash, randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { createApi } from '../../src/clients/apis.js';
import { createClient, rotateClientSecret, setClientDisabled } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { JWT_BEARER, assertionKey, clientAssertion, type AssertionKey } from '../support/client-assertion.js';
import { auditEvents } from '../support/audit-events.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const ORDERS = 'https://api.example.com/orders';
const BILLING = 'urn:example:billing';

describe.each(PROVIDERS)('client credentials on %s', (provider) => {
  const gh = useGatehouse(provider);
  let url: ReturnType<typeof endpoints>;
  /** client_secret_basic, orders:read, default API orders. */
  let basic: { id: string; secret: string };
  /** client_secret_post, orders:read + orders:write, no default API. */
  let post: { id: string; secret: string };
  /** private_key_jwt, billing:read, default API billing. */
  let jwt: { id: string; key: AssertionKey };

  const clientCredentials = (form: Record<string, string>, headers: Record<string, string> = {}) =>
    postForm(url.token, { grant_type: 'client_credentials', ...form }, headers);

  beforeAll(async () => {
    url = endpoints(gh);
    const prisma = gh.db.prisma;
    await createApi(prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read', 'orders:write'], access_token_ttl: 600 });
    await createApi(prisma, { identifier: BILLING, name: 'Billing', scopes: ['billing:read'], access_token_ttl: 300 });

    const b = await createClient(prisma, { name: 'basic', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    basic = { id: b.client.client_id, secret: b.clientSecret! };
    const p = await createClient(prisma, {
      name: 'post',
      profile: 'service',
      token_endpoint_auth_method: 'client_secret_post',
      apis: [{ identifier: ORDERS, scopes: ['orders:read', 'orders:write'] }],
    });
    post = { id: p.client.client_id, secret: p.clientSecret! };
    const key = await assertionKey();
    const j = await createClient(prisma, {
      name: 'jwt',
      profile: 'service',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [key.publicJwk] },
      apis: [{ identifier: BILLING, scopes: ['billing:read'] }],
      default_api: BILLING,
    });
    jwt = { id: j.client.client_id, key };
  });

  describe('each authentication method', () => {
    test('client_secret_basic, default API: an RS256 at+jwt access token that verifies against the JWKS', async () => {
      const res = await clientCredentials({ scope: 'orders:read' }, { authorization: basicAuth(basic.id, basic.secret) });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'orders:read' });
      expect(res.body).not.toHaveProperty('refresh_token');

      const token = res.body.access_token as string;
      const jwks = createRemoteJWKSet(new URL(url.jwks));
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        issuer: gh.config.issuer,
        audience: ORDERS,
        typ: 'at+jwt',
        algorithms: ['RS256'],
      });
      expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: expect.any(String) });
      expect(payload).toMatchObject({ iss: gh.config.issuer, sub: basic.id, aud: ORDERS, client_id: basic.id, scope: 'orders:read' });
      expect(payload.jti).toEqual(expect.any(String));
      expect(payload.iat).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000));
      expect(payload.exp! - payload.iat!).toBe(600);
    });

    test('client_secret_post with an explicit resource', async () => {
      const res = await clientCredentials({ client_id: post.id, client_secret: post.secret, resource: ORDERS, scope: 'orders:read orders:write' });
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('orders:read orders:write');
      const claims = decodeJwt(res.body.access_token as string);
      expect(claims).toMatchObject({ aud: ORDERS, client_id: post.id, sub: post.id, scope: 'orders:read orders:write' });
    });

    test('private_key_jwt with an assertion for the token endpoint', async () => {
      const assertion = await clientAssertion(jwt.key, jwt.id, url.token);
      const res = await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: assertion, scope: 'billing:read' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ expires_in: 300, scope: 'billing:read' });
      const { payload } = await jwtVerify(res.body.access_token as string, createRemoteJWKSet(new URL(url.jwks)), {
        issuer: gh.config.issuer,
        audience: BILLING,
        typ: 'at+jwt',
      });
      expect(payload).toMatchObject({ client_id: jwt.id, sub: jwt.id, scope: 'billing:read' });
    });

    test('the issuer identifier is accepted as the assertion audience too (RFC 7523 §3)', async () => {
      const assertion = await clientAssertion(jwt.key, jwt.id, gh.config.issuer);
      expect((await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: assertion })).status).toBe(200);
    });

    test('without scope the token carries no scope', async () => {
      const res = await clientCredentials({}, { authorization: basicAuth(basic.id, basic.secret) });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token as string).scope).toBeUndefined();
    });
  });

  describe('private_key_jwt assertions that must fail', () => {
    const expectInvalidClient = (res: { status: number; body: Record<string, unknown> }) => {
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    };

    test('a replayed assertion (same jti) is rejected', async () => {
      const assertion = await clientAssertion(jwt.key, jwt.id, url.token);
      expect((await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: assertion })).status).toBe(200);
      expectInvalidClient(await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: assertion }));
    });

    test('a wrong audience is rejected', async () => {
      const assertion = await clientAssertion(jwt.key, jwt.id, 'https://other.example.com/token');
      expectInvalidClient(await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: assertion }));
    });

    test('an expired assertion is rejected', async () => {
      const now = Math.floor(Date.now() / 1000);
      const assertion = await clientAssertion(jwt.key, jwt.id, url.token, { iat: now - 600, exp: now - 300 });
      expectInvalidClient(await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: assertion }));
    });

    test('an assertion valid for longer than 5 minutes is rejected', async () => {
      const assertion = await clientAssertion(jwt.key, jwt.id, url.token, { exp: Math.floor(Date.now() / 1000) + 3600 });
      expectInvalidClient(await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: assertion }));
    });

    test('an assertion signed by an unregistered key is rejected', async () => {
      const stranger = await assertionKey();
      const assertion = await clientAssertion({ ...stranger, kid: jwt.key.kid }, jwt.id, url.token);
      expectInvalidClient(await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: assertion }));
    });

    test('alg none and HS256 assertions are rejected', async () => {
      const now = Math.floor(Date.now() / 1000);
      const claims = Buffer.from(JSON.stringify({ iss: jwt.id, sub: jwt.id, aud: url.token, exp: now + 60, jti: randomUUID() })).toString('base64url');
      const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${claims}.`;
      expectInvalidClient(await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: none }));
      const hsHeader = Buffer.from(JSON.stringify({ alg: 'HS256', kid: jwt.key.kid })).toString('base64url');
      const mac = createHash('sha256').update(`${hsHeader}.${claims}`).digest('base64url');
      expectInvalidClient(await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: `${hsHeader}.${claims}.${mac}` }));
    });
  });

  describe('client authentication failures', () => {
    test('a wrong secret over Basic: 401 invalid_client with WWW-Authenticate (RFC 6749 §5.2)', async () => {
      const res = await clientCredentials({}, { authorization: basicAuth(basic.id, `ghs_${'A'.repeat(43)}`) });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=".*", error="invalid_client"/);
      expect(JSON.stringify(res.body)).not.toMatch(/invalid secret|hash/);
    });

    test('a wrong secret in the body: 401 invalid_client', async () => {
      const res = await clientCredentials({ client_id: post.id, client_secret: post.secret.slice(0, -1) + (post.secret.endsWith('A') ? 'B' : 'A') });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    });

    test('an unknown client, or a method other than the registered one: invalid_client', async () => {
      expect((await clientCredentials({}, { authorization: basicAuth('no-such-client', basic.secret) })).body.error).toBe('invalid_client');
      // A secret for the private_key_jwt client (it has none), an assertion for a secret client.
      const secretForJwtClient = await clientCredentials({}, { authorization: basicAuth(jwt.id, basic.secret) });
      expect(secretForJwtClient.status).toBe(401);
      expect(secretForJwtClient.body.error).toBe('invalid_client');
      const assertion = await clientAssertion(jwt.key, basic.id, url.token);
      const assertionForSecretClient = await clientCredentials({ client_assertion_type: JWT_BEARER, client_assertion: assertion });
      expect(assertionForSecretClient.status).toBe(401);
      expect(assertionForSecretClient.body.error).toBe('invalid_client');
    });

    test('client_secret_basic and client_secret_post are one method with two carriers (oidc-provider accepts either)', async () => {
      // The same secret, registered for Basic, also authenticates in the body: RFC 6749 §2.3.1
      // defines both for client passwords, and the secret is equally protected in either.
      expect((await clientCredentials({ client_id: basic.id, client_secret: basic.secret })).status).toBe(200);
    });

    test('a disabled client: invalid_client until enabled again', async () => {
      const { client, clientSecret } = await createClient(gh.db.prisma, { name: 'toggle', profile: 'service', apis: [{ identifier: ORDERS, scopes: [] }], default_api: ORDERS });
      const auth = { authorization: basicAuth(client.client_id, clientSecret!) };
      expect((await clientCredentials({}, auth)).status).toBe(200);
      await setClientDisabled(gh.db.prisma, client.client_id, true);
      const refused = await clientCredentials({}, auth);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_client');
      await setClientDisabled(gh.db.prisma, client.client_id, false);
      expect((await clientCredentials({}, auth)).status).toBe(200);
    });
  });

  describe('secret rotation', () => {
    test('both secrets work during the overlap; the old one fails once its expiry has passed', async () => {
      const { client, clientSecret: oldSecret } = await createClient(gh.db.prisma, { name: 'rotating', profile: 'service', apis: [{ identifier: ORDERS, scopes: [] }], default_api: ORDERS });
      const { clientSecret: newSecret } = await rotateClientSecret(gh.db.prisma, client.client_id, { overlapSeconds: 3600 });
      expect((await clientCredentials({}, { authorization: basicAuth(client.client_id, oldSecret!) })).status).toBe(200);
      expect((await clientCredentials({}, { authorization: basicAuth(client.client_id, newSecret) })).status).toBe(200);

      // The overlap ends: move the old secret's expiry into the past.
      await gh.db.prisma.clientSecret.updateMany({
        where: { clientId: client.client_id, expiresAt: { not: null } },
        data: { expiresAt: new Date(Date.now() - 1000) },
      });
      const old = await clientCredentials({}, { authorization: basicAuth(client.client_id, oldSecret!) });
      expect(old.status).toBe(401);
      expect(old.body.error).toBe('invalid_client');
      expect((await clientCredentials({}, { authorization: basicAuth(client.client_id, newSecret) })).status).toBe(200);
    });

    test('rotation with no overlap retires the old secret at once', async () => {
      const { client, clientSecret: oldSecret } = await createClient(gh.db.prisma, { name: 'rotate-now', profile: 'service', apis: [{ identifier: ORDERS, scopes: [] }], default_api: ORDERS });
      const { clientSecret: newSecret, previousExpiresAt } = await rotateClientSecret(gh.db.prisma, client.client_id, { overlapSeconds: 0 });
      expect(previousExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now());
      expect((await clientCredentials({}, { authorization: basicAuth(client.client_id, oldSecret!) })).body.error).toBe('invalid_client');
      expect((await clientCredentials({}, { authorization: basicAuth(client.client_id, newSecret) })).status).toBe(200);
    });
  });

  test('a token request checks the SHA-256 hash, and has no slow password-hash path to fall back to', async () => {
    const { client, clientSecret } = await createClient(gh.db.prisma, { name: 'hash', profile: 'service', apis: [{ identifier: ORDERS, scopes: [] }], default_api: ORDERS });
    const auth = { authorization: basicAuth(client.client_id, clientSecret!) };
    const [row] = await gh.db.prisma.clientSecret.findMany({ where: { clientId: client.client_id } });
    // What is stored, and what a successful token request matched, is SHA-256 of the secret.
    expect(row!.hash).toBe(`sha256$${createHash('sha256').update(clientSecret!).digest('base64url')}`);
    expect((await clientCredentials({}, auth)).status).toBe(200);
    // The same secret stored as an argon2id hash no longer authenticates: the token endpoint never
    // hands a presented secret to argon2, so no request can make it pay for one.
    await gh.db.prisma.clientSecret.update({ where: { id: row!.id }, data: { hash: await argon2.hash(clientSecret!, { type: argon2.argon2id }) } });
    expect((await clientCredentials({}, auth)).body.error).toBe('invalid_client');
  });

  describe('resources and scopes', () => {
    test('a resource the client is not allowed: invalid_target (RFC 8707 §2)', async () => {
      for (const resource of [BILLING, 'https://unknown.example.com/api', 'not a uri', `${ORDERS}#frag`]) {
        const res = await clientCredentials({ resource }, { authorization: basicAuth(basic.id, basic.secret) });
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_target');
      }
    });

    test('no resource and no default API: invalid_target', async () => {
      const res = await clientCredentials({ client_id: post.id, client_secret: post.secret, scope: 'orders:read' });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_target');
    });

    test('a scope the client is not allowed for the API: invalid_scope (RFC 6749 §5.2)', async () => {
      for (const scope of ['orders:write', 'orders:read orders:write', 'billing:read', 'openid', 'admin']) {
        const res = await clientCredentials({ scope }, { authorization: basicAuth(basic.id, basic.secret) });
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_scope');
      }
    });

    test('a permission removed in the registry takes effect on the next request', async () => {
      const { client, clientSecret } = await createClient(gh.db.prisma, {
        name: 'shrinking',
        profile: 'service',
        apis: [{ identifier: ORDERS, scopes: ['orders:read', 'orders:write'] }],
        default_api: ORDERS,
      });
      const auth = { authorization: basicAuth(client.client_id, clientSecret!) };
      expect((await clientCredentials({ scope: 'orders:write' }, auth)).status).toBe(200);
      await gh.db.prisma.clientApi.updateMany({ where: { clientId: client.client_id }, data: { scopes: ['orders:read'] } });
      expect((await clientCredentials({ scope: 'orders:write' }, auth)).body.error).toBe('invalid_scope');
    });
  });

  describe('audit', () => {
    test('token.issued records grant type, client and API, never the token', async () => {
      const { client, clientSecret } = await createClient(gh.db.prisma, { name: 'audited', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
      const res = await clientCredentials({ scope: 'orders:read' }, { authorization: basicAuth(client.client_id, clientSecret!) });
      expect(res.status).toBe(200);
      const [event] = await auditEvents(gh.db.prisma, 'token.issued', client.client_id);
      expect(event).toMatchObject({
        outcome: 'success',
        clientId: client.client_id,
        ip: expect.any(String),
        details: { grant_type: 'client_credentials', api: ORDERS, scope: 'orders:read' },
      });
      const token = res.body.access_token as string;
      const all = JSON.stringify(await gh.db.prisma.auditEvent.findMany());
      expect(all).not.toContain(token);
      expect(all).not.toContain(token.split('.')[2]);
      expect(all).not.toContain(clientSecret!);
      expect(gh.logs.join('')).not.toContain(token.split('.')[2]);
      expect(gh.logs.join('')).not.toContain(clientSecret!);
    });

    test('client.auth_failed records the client and the endpoint, never the presented secret', async () => {
      const { client } = await createClient(gh.db.prisma, { name: 'failing', profile: 'service', apis: [{ identifier: ORDERS, scopes: [] }], default_api: ORDERS });
      const wrong = `ghs_${'z'.repeat(43)}`;
      expect((await clientCredentials({}, { authorization: basicAuth(client.client_id, wrong) })).status).toBe(401);
      const [event] = await auditEvents(gh.db.prisma, 'client.auth_failed', client.client_id);
      expect(event).toMatchObject({ outcome: 'failure', clientId: client.client_id, details: { endpoint: 'token', reason: expect.any(String) } });
      expect(JSON.stringify(await gh.db.prisma.auditEvent.findMany())).not.toContain(wrong);
      expect(gh.logs.join('')).not.toContain(wrong);

      // An unknown client is recorded under the client_id it claimed.
      await clientCredentials({}, { authorization: basicAuth('ghost-client', wrong) });
      const [ghost] = await auditEvents(gh.db.prisma, 'client.auth_failed', 'ghost-client');
      expect(ghost).toMatchObject({ details: { endpoint: 'token' } });
    });
  });

  test('the access token header cannot be mistaken for an ID token', async () => {
    const res = await clientCredentials({}, { authorization: basicAuth(basic.id, basic.secret) });
    expect(decodeProtectedHeader(res.body.access_token as string).typ).toBe('at+jwt');
  });
});
