// CORS beyond what test/services/introspection-revocation.test.ts covers for token,
// introspection and revocation: userinfo, answers given before the client is known, refusals by
// a per-client rate limit, and never a wildcard with credentials (any site could then read answers).
import { createClient } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { registerUser } from '../support/signin.js';
import { basicAuth, postForm } from '../support/oauth-http.js';
import { mintUserTokens } from '../support/user-tokens.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const APP_ORIGIN = 'https://app.example.com';
const OTHER_ORIGIN = 'https://other-app.example.com';
const EVIL_ORIGIN = 'https://evil.example.com';

describe.each(PROVIDERS)('CORS on %s', (provider) => {
  const gh = useGatehouse(provider, { TOKEN_CLIENT_LIMIT: '2', TOKEN_CLIENT_WINDOW: '10m' });
  let app: { id: string; auth: string };
  const seen: Response[] = [];
  const track = (res: Response) => {
    seen.push(res);
    return res;
  };
  const userinfo = async (token: string, headers: Record<string, string>) =>
    track(await fetch(`${gh.url}/me`, { headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...headers } }));
  const preflight = async (path: string, origin: string) =>
    track(
      await fetch(`${gh.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      }),
    );

  beforeAll(async () => {
    const web = await createClient(gh.db.prisma, {
      name: 'app',
      profile: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [`${APP_ORIGIN}/callback`],
      scope: ['openid', 'offline_access'],
      cors_origins: [APP_ORIGIN],
    });
    app = { id: web.client.client_id, auth: basicAuth(web.client.client_id, web.clientSecret!) };
    await createClient(gh.db.prisma, { name: 'other', profile: 'spa', redirect_uris: [`${OTHER_ORIGIN}/cb`], cors_origins: [OTHER_ORIGIN] });
  });

  test("userinfo answers the token's client's registered origin", async () => {
    const { accessToken } = await mintUserTokens(gh, app.id, (await registerUser(gh)).id);
    const allowed = await userinfo(accessToken, { origin: APP_ORIGIN });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(allowed.headers.get('vary')).toMatch(/Origin/i);
    // The rate-limit fields are readable by the app.
    expect(allowed.headers.get('access-control-expose-headers')).toMatch(/RateLimit-Remaining/);
    expect(allowed.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
  });

  test("userinfo refuses an origin the token's client did not register, even another client's", async () => {
    const { accessToken } = await mintUserTokens(gh, app.id, (await registerUser(gh)).id);
    for (const origin of [EVIL_ORIGIN, OTHER_ORIGIN]) {
      const refused = await userinfo(accessToken, { origin });
      expect(refused.status).toBe(400);
      expect(refused.headers.get('access-control-allow-origin')).toBeNull();
      expect(await refused.json()).toMatchObject({ error: 'invalid_request' });
    }
  });

  test('userinfo preflight: answered for a registered origin, refused for an unknown one', async () => {
    const allowed = await preflight('/me', APP_ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    const refused = await preflight('/me', EVIL_ORIGIN);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('an answer given before the client is known names no origin', async () => {
    // An unknown client at the token endpoint, an invalid token at userinfo: oidc-provider
    // would otherwise echo the caller's origin.
    const unknownClient = await postForm(`${gh.url}/token`, { grant_type: 'client_credentials' }, { authorization: basicAuth('nobody', 'secret'), origin: APP_ORIGIN });
    seen.push(new Response(null, { headers: unknownClient.headers }));
    expect(unknownClient.status).toBe(401);
    expect(unknownClient.headers.get('access-control-allow-origin')).toBeNull();
    const invalidToken = await userinfo('not-a-token', { origin: APP_ORIGIN });
    expect(invalidToken.status).toBe(401);
    expect(invalidToken.headers.get('access-control-allow-origin')).toBeNull();
  });

  test("a per-client rate-limit refusal is readable by the client's own origin only", async () => {
    const token = async (origin: string) => {
      const res = await postForm(`${gh.url}/token`, { grant_type: 'refresh_token', refresh_token: 'no-such-token' }, { authorization: app.auth, origin });
      seen.push(new Response(null, { headers: res.headers }));
      return res;
    };
    expect((await token(APP_ORIGIN)).body).toMatchObject({ error: 'invalid_grant' });
    expect((await token(APP_ORIGIN)).body).toMatchObject({ error: 'invalid_grant' });
    const refused = await token(APP_ORIGIN);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    expect(refused.headers.get('access-control-expose-headers')).toMatch(/Retry-After/);
    const elsewhere = await token(EVIL_ORIGIN);
    expect(elsewhere.status).toBe(429);
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('public metadata (discovery, JWKS) is readable from any origin, without credentials', async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const res = track(await fetch(`${gh.url}${path}`, { headers: { origin: EVIL_ORIGIN } }));
      expect(res.status).toBe(200);
      expect(res.headers.get('access-control-allow-origin')).toEqual(expect.any(String));
    }
  });

  // Runs last: it looks at every response the tests above received.
  test('no response allows credentials, so none is a wildcard with credentials', () => {
    expect(seen.length).toBeGreaterThan(10);
    for (const res of seen) expect(res.headers.get('access-control-allow-credentials')).toBeNull();
  });
});
