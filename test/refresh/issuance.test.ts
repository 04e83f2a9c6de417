// Refresh tokens are issued only for offline_access that the person consented to (OpenID Connect
// Core §11), only to clients allowed the refresh_token grant, are stored through the adapter
// with their grant, person and client, and are rotated on every use (RFC 9700 §4.14.2).
import { PROVIDERS } from '../support/databases.js';
import {
  TestBrowser,
  authorizationUrl,
  authorizeAndSignIn,
  callbackOf,
  consent,
  exchangeCode,
  expectPage,
  pkcePair,
  registerClient,
  registerUser,
  signIn,
} from '../support/signin.js';
import { OFFLINE_SCOPE, introspect, refresh, refreshPayload, signInOffline, storedGrant } from '../support/refresh.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('refresh token issuance and rotation on %s', (provider) => {
  const gh = useGatehouse(provider);
  const client = useBeforeAll(() => registerClient(gh));

  test('offline_access consented to yields a refresh token, stored with its grant, person and client', async () => {
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { verifier, challenge } = pkcePair();
    const login = await browser.get(authorizationUrl(gh, { client, scope: OFFLINE_SCOPE, codeChallenge: challenge, extra: { prompt: 'consent' } }));
    const page = expectPage(await signIn(browser, login, user.email));
    // The consent page says what offline access means.
    expect(page.html).toContain('Stay connected');
    const tokens = await exchangeCode(gh, client, callbackOf(await consent(browser, page), client).code!, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ refresh_token: expect.any(String), scope: OFFLINE_SCOPE, token_type: 'Bearer' });

    const row = await gh.db.prisma.refreshToken.findUnique({ where: { id: tokens.body.refresh_token as string } });
    expect(row).toMatchObject({ accountId: user.id, clientId: client.clientId, grantId: expect.any(String), consumedAt: null });
    // Default idle lifetime: 14 days from now.
    const fourteenDays = 14 * 86_400_000;
    expect(row!.expiresAt!.getTime()).toBeGreaterThan(Date.now() + fourteenDays - 60_000);
    expect(row!.expiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + fourteenDays);
    const grant = await gh.db.prisma.grant.findUnique({ where: { id: row!.grantId! } });
    expect(grant).toMatchObject({ accountId: user.id, clientId: client.clientId });
  });

  test('every use rotates: a new token each time, the presented one consumed, one chain under one grant', async () => {
    const user = await registerUser(gh);
    const first = await signInOffline(gh, client, user.email);
    const chain = [first.refreshToken];
    for (let i = 0; i < 3; i++) {
      const res = await refresh(gh, client, chain.at(-1)!);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ access_token: expect.any(String), id_token: expect.any(String), token_type: 'Bearer', scope: OFFLINE_SCOPE });
      chain.push(res.body.refresh_token as string);
    }
    expect(new Set(chain).size).toBe(4);

    const { refreshTokens } = await storedGrant(gh, first.grantId);
    expect(refreshTokens.map((t) => t.id).sort()).toEqual([...chain].sort());
    const byId = new Map(refreshTokens.map((t) => [t.id, t]));
    for (const used of chain.slice(0, -1)) expect(byId.get(used)!.consumedAt).toEqual(expect.any(Date));
    expect(byId.get(chain.at(-1)!)!.consumedAt).toBeNull();

    // The chain keeps its origin across rotations; that is what the absolute lifetime counts from.
    const origin = await refreshPayload(gh, chain[0]!);
    const latest = await refreshPayload(gh, chain.at(-1)!);
    expect(latest).toMatchObject({ iiat: origin.iiat, authTime: origin.authTime, rotations: 3 });
    expect((await introspect(gh, client, chain.at(-1)!)).body).toMatchObject({ active: true, sub: user.id, scope: OFFLINE_SCOPE });
  });

  test('without offline_access there is no refresh token', async () => {
    const user = await registerUser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email, { scope: 'openid profile email' });
    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toBeUndefined();
    expect(await gh.db.prisma.refreshToken.count({ where: { accountId: user.id } })).toBe(0);
  });

  test('offline_access without prompt=consent is dropped (Core §11), so no refresh token', async () => {
    const user = await registerUser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email, { scope: OFFLINE_SCOPE });
    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body.scope).toBe('openid profile email');
    expect(tokens.body.refresh_token).toBeUndefined();
  });

  test('a client not allowed the refresh_token grant gets none, even with offline_access and consent', async () => {
    const noRefresh = await registerClient(gh, { grant_types: ['authorization_code'], scope: ['openid', 'profile', 'email'] });
    const user = await registerUser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, new TestBrowser(gh), noRefresh, user.email, {
      scope: OFFLINE_SCOPE,
      extra: { prompt: 'consent' },
    });
    const tokens = await exchangeCode(gh, noRefresh, callback.code!, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.body.refresh_token).toBeUndefined();
    // Nor can it use the grant type (oidc-provider answers invalid_request here, where RFC 6749
    // §5.2 would say unauthorized_client).
    const attempt = await refresh(gh, noRefresh, 'anything');
    expect(attempt.status).toBe(400);
    expect(attempt.body).toEqual({ error: 'invalid_request', error_description: 'requested grant type is not allowed for this client' });
  });

  test('a public client (SPA) gets rotating refresh tokens too', async () => {
    const spa = await registerClient(gh, { name: 'Acme SPA', profile: 'spa' });
    expect(spa.clientSecret).toBeUndefined();
    const user = await registerUser(gh);
    const first = await signInOffline(gh, spa, user.email);
    const rotated = await refresh(gh, spa, first.refreshToken);
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh_token).not.toBe(first.refreshToken);
    const stored = await gh.db.prisma.refreshToken.findUnique({ where: { id: first.refreshToken } });
    expect(stored!.consumedAt).toEqual(expect.any(Date));
  });
});
