// A refresh request that is refused must not have rotated its token (attack classes: side
// effects before validation): the client retries, and with a consumed token the retry would be
// taken for reuse, revoking the grant and auditing a theft that never happened. The reuse grace
// is 0 here, so any second use of a rotated token revokes at once.
import { createApi } from '../../src/clients/apis.js';
import { PROVIDERS } from '../support/databases.js';
import {
  TestBrowser,
  authorizationUrl,
  callbackOf,
  consent,
  exchangeCode,
  pkcePair,
  registerClient,
  registerUser,
  signIn,
  tokenRequest,
  type TestClient,
} from '../support/signin.js';
import { refresh, signInOffline } from '../support/refresh.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const ORDERS = 'https://api.example.com/orders';
const BILLING = 'https://api.example.com/billing';
const ADMIN = 'https://api.example.com/admin';

describe.each(PROVIDERS)('refused refresh requests on %s', (provider) => {
  const gh = useGatehouse(provider, { REFRESH_TOKEN_REUSE_GRACE: '0' });
  let client: TestClient;
  beforeAll(async () => {
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    await createApi(gh.db.prisma, { identifier: BILLING, name: 'Billing', scopes: ['billing:read'] });
    await createApi(gh.db.prisma, { identifier: ADMIN, name: 'Admin', scopes: ['admin'] });
    client = await registerClient(gh, {
      scope: ['openid', 'profile', 'email', 'offline_access'],
      apis: [
        { identifier: ORDERS, scopes: ['orders:read'] },
        { identifier: BILLING, scopes: ['billing:read'] },
      ],
      // The person grants orders:read through the default API (no resource at /auth).
      default_api: ORDERS,
    });
  });

  const refused: [string, Record<string, string | string[]>, string][] = [
    ['an API the client may not use', { resource: ADMIN }, 'invalid_target'],
    ['an unknown resource', { resource: 'https://unknown.example.com/' }, 'invalid_target'],
    ['an API the client may use but the person did not grant', { resource: BILLING }, 'invalid_target'],
    ['two resources at once, neither the default API', { resource: [BILLING, ADMIN] }, 'invalid_target'],
  ];

  test.each(refused)('finding 15.6: %s is refused and the refresh token survives the refusal', async (_what, params, error) => {
    await refusedThenRetried(params, error);
  });

  // oidc-provider checks this one before rotating; kept here so it stays that way.
  test('a scope the refresh token does not carry is refused and the refresh token survives the refusal', async () => {
    await refusedThenRetried({ scope: 'openid billing:read' }, 'invalid_scope');
  });

  async function refusedThenRetried(params: Record<string, string | string[]>, error: string): Promise<void> {
    const user = await registerUser(gh);
    const signedIn = await signInOffline(gh, client, user.email, 'openid email offline_access orders:read');
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: signedIn.refreshToken });
    for (const [key, value] of Object.entries(params)) for (const v of [value].flat()) form.append(key, v);
    const res = await fetch(`${gh.config.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret!}`).toString('base64')}`,
      },
      body: form.toString(),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error });

    // The same token still works, once, and the grant is intact.
    const retry = await refresh(gh, client, signedIn.refreshToken);
    expect(retry.status).toBe(200);
    expect(retry.body.refresh_token).toEqual(expect.any(String));
    expect(await gh.db.prisma.grant.findUnique({ where: { id: signedIn.grantId } })).not.toBeNull();
    expect(await gh.db.prisma.auditEvent.count({ where: { type: 'refresh.reuse_detected', subject: user.id } })).toBe(0);
    // The allowed resource still gets its token from the rotated one.
    const withResource = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: retry.body.refresh_token as string, resource: ORDERS });
    expect(withResource.status).toBe(200);
  }

  test('finding 15.6: a code and a refresh token for two APIs, exchanged without naming one, are refused and survive the refusal', async () => {
    // No default API: a token request must say which of the two APIs its access token is for.
    const twoApis = await registerClient(gh, {
      scope: ['openid', 'email', 'offline_access'],
      apis: [
        { identifier: ORDERS, scopes: ['orders:read'] },
        { identifier: BILLING, scopes: ['billing:read'] },
      ],
    });
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { verifier, challenge } = pkcePair();
    const url = authorizationUrl(gh, { client: twoApis, codeChallenge: challenge, scope: 'openid offline_access orders:read billing:read', extra: { prompt: 'consent', resource: ORDERS } });
    url.searchParams.append('resource', BILLING);
    const { code } = callbackOf(await consent(browser, await signIn(browser, await browser.get(url), user.email)), twoApis);
    expect(code).toEqual(expect.any(String));

    const unnamed = await exchangeCode(gh, twoApis, code!, verifier);
    expect(unnamed.status).toBe(400);
    expect(unnamed.body).toMatchObject({ error: 'invalid_target' });
    const named = await tokenRequest(gh, twoApis, { grant_type: 'authorization_code', code: code!, redirect_uri: twoApis.redirectUri, code_verifier: verifier, resource: ORDERS });
    expect(named.status).toBe(200);
    const refreshToken = named.body.refresh_token as string;
    expect(refreshToken).toEqual(expect.any(String));

    const unnamedRefresh = await refresh(gh, twoApis, refreshToken);
    expect(unnamedRefresh.status).toBe(400);
    expect(unnamedRefresh.body).toMatchObject({ error: 'invalid_target' });
    const namedRefresh = await tokenRequest(gh, twoApis, { grant_type: 'refresh_token', refresh_token: refreshToken, resource: BILLING });
    expect(namedRefresh.status).toBe(200);
    expect(await gh.db.prisma.auditEvent.count({ where: { type: { in: ['refresh.reuse_detected', 'code.replay_detected'] }, subject: user.id } })).toBe(0);
  });
});
