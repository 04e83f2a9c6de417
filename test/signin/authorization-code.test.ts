// The authorization code flow with PKCE, end to end over HTTP: authorization request, login
// page, consent page, callback, token exchange, ID token checked against the JWKS, userinfo.
// Consent is remembered per person and client, asked again only for new scopes, and skipped
// for first-party clients; Deny and Cancel return access_denied to the client.
import { PROVIDERS } from '../support/databases.js';
import {
  TestBrowser,
  atHash,
  auditRows,
  authorizationUrl,
  authorizeAndSignIn,
  callbackOf,
  consent,
  exchangeCode,
  expectPage,
  formWithAction,
  pkcePair,
  randomToken,
  registerClient,
  registerUser,
  signIn,
  userinfo,
  verifyIdToken,
} from '../support/signin.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('authorization code + PKCE sign-in on %s', (provider) => {
  const gh = useGatehouse(provider);

  test('authorize -> login -> consent -> callback -> token -> verified ID token -> userinfo', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh, { name: 'Grace Hopper' });
    const browser = new TestBrowser(gh);
    const { verifier, challenge } = pkcePair();
    const state = randomToken();
    const nonce = randomToken();

    // The authorization request lands on our login page, with labelled, autocomplete-ready fields.
    const login = expectPage(await browser.get(authorizationUrl(gh, { client, state, nonce, codeChallenge: challenge })));
    expect(login.status).toBe(200);
    expect(login.url.pathname).toMatch(/^\/interaction\/[\w-]+$/);
    expect(browser.hops[0]).toMatchObject({ status: 303 });
    expect(login.html).toContain('Acme Notes');
    expect(login.html).toMatch(/<label for="email">Email<\/label>/);
    // "webauthn": the browser may offer passkeys in the email field's autofill (src/mfa).
    expect(login.html).toMatch(/<input id="email" name="email" type="email"[^>]*autocomplete="username webauthn"/);
    expect(login.html).toMatch(/<input id="password" name="password" type="password"[^>]*autocomplete="current-password"/);
    // The only scripts are our passkey files from /static (src/mfa): nothing inline.
    expect([...login.html.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0])).toEqual([
      '<script src="/static/simplewebauthn-browser.js">',
      '<script src="/static/passkeys.js">',
    ]);
    expect(login.html).not.toMatch(/<script>|<script\b(?![^>]*\bsrc=)/i);
    const csp = login.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(csp).not.toContain('unsafe-inline');
    // The login form may end (after redirects) at the client's redirect_uri, and nowhere else.
    expect(csp).toMatch(/form-action 'self' http:\/\/127\.0\.0\.1:8765(;|$)/);
    expect(login.headers.get('cache-control')).toBe('no-store');

    // Emails are matched normalised: surrounding spaces and case do not matter.
    const consentPage = expectPage(await signIn(browser, login, `  ${user.email.toUpperCase()} `));
    expect(browser.hops.find((h) => h.method === 'POST')).toMatchObject({ status: 303 });
    expect(consentPage.html).toContain('Acme Notes');
    expect(consentPage.html).toContain(user.email);
    expect(consentPage.html).toContain('Confirm who you are');
    expect(consentPage.html).toContain('See your name');
    expect(consentPage.html).toContain('See your email address');
    expect(consentPage.html).not.toContain('Stay connected');
    expect(consentPage.html).toMatch(/name="decision" value="allow"/);
    expect(consentPage.html).toMatch(/name="decision" value="deny"/);

    const callback = callbackOf(await consent(browser, consentPage, 'allow'), client);
    expect(callback.error).toBeNull();
    expect(callback.code).toEqual(expect.any(String));
    expect(callback.state).toBe(state);
    // RFC 9207 §2: the issuer identifier in the authorization response.
    expect(callback.iss).toBe(gh.config.issuer);

    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('cache-control')).toBe('no-store');
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', id_token: expect.any(String), access_token: expect.any(String) });
    // No offline_access was asked for, so no refresh token.
    expect(tokens.body.refresh_token).toBeUndefined();

    const idToken = await verifyIdToken(gh, tokens.body.id_token as string, client.clientId);
    expect(idToken.sub).toBe(user.id);
    expect(idToken.sub).not.toContain('@');
    expect(idToken.nonce).toBe(nonce);
    expect(idToken.aud).toBe(client.clientId);
    const now = Math.floor(Date.now() / 1000);
    expect(idToken.exp).toBeGreaterThan(now);
    expect(idToken.exp! - idToken.iat!).toBe(gh.config.ttl.idToken);
    if (idToken.at_hash !== undefined) expect(idToken.at_hash).toBe(atHash(tokens.body.access_token as string));

    const info = await userinfo(gh, tokens.body.access_token as string);
    expect(info).toEqual({
      status: 200,
      body: { sub: user.id, name: 'Grace Hopper', email: user.email, email_verified: true },
    });

    const [success] = await auditRows(gh, 'login.success', { subject: user.id });
    expect(success).toMatchObject({ outcome: 'success', clientId: client.clientId, ip: expect.any(String) });
    const [granted] = await auditRows(gh, 'consent.granted', { subject: user.id });
    expect(granted?.details).toMatchObject({ scope: ['openid', 'profile', 'email'] });
  });

  test('scopes release only their claims at userinfo', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh, { name: 'Only Email' });
    const browser = new TestBrowser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, browser, client, user.email, { scope: 'openid email' });
    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    expect((await userinfo(gh, tokens.body.access_token as string)).body).toEqual({ sub: user.id, email: user.email, email_verified: true });
  });

  test('a second authorization in the same session needs neither login nor consent', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    await authorizeAndSignIn(gh, browser, client, user.email);

    const { challenge } = pkcePair();
    const state = randomToken();
    const callback = callbackOf(await browser.get(authorizationUrl(gh, { client, state, codeChallenge: challenge })), client);
    expect(callback).toMatchObject({ state, error: null, code: expect.any(String) });
  });

  test('consent is remembered in a new session, and asked again only for new scopes', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email, { scope: 'openid email' });

    // Another browser: the person signs in, and is not asked again for what they granted.
    const second = new TestBrowser(gh);
    const { challenge } = pkcePair();
    const afterLogin = await signIn(second, await second.get(authorizationUrl(gh, { client, scope: 'openid email', codeChallenge: challenge })), user.email);
    expect(callbackOf(afterLogin, client).code).toEqual(expect.any(String));

    // A new scope: the consent page asks for that one only.
    const { verifier: v2, challenge: c2 } = pkcePair();
    const more = expectPage(await second.get(authorizationUrl(gh, { client, scope: 'openid email profile', codeChallenge: c2 })));
    expect(more.html).toContain('See your name');
    expect(more.html).not.toContain('See your email address');
    expect(more.html).not.toContain('Confirm who you are');
    const callback = callbackOf(await consent(second, more), client);
    const tokens = await exchangeCode(gh, client, callback.code!, v2);
    expect((await userinfo(gh, tokens.body.access_token as string)).body).toMatchObject({ name: 'Ada Lovelace', email: user.email });
  });

  test('consent given to one client is not consent for another', async () => {
    const first = await registerClient(gh);
    const second = await registerClient(gh, { name: 'Other App' });
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    await authorizeAndSignIn(gh, browser, first, user.email);
    const { challenge } = pkcePair();
    const page = expectPage(await browser.get(authorizationUrl(gh, { client: second, codeChallenge: challenge })));
    expect(page.html).toContain('Other App');
    expect(page.html).toMatch(/name="decision" value="allow"/);
  });

  test('a first-party client skips consent', async () => {
    const client = await registerClient(gh, { name: 'Our Own Console', first_party: true });
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { verifier, challenge } = pkcePair();
    const state = randomToken();
    const landing = await signIn(browser, await browser.get(authorizationUrl(gh, { client, state, codeChallenge: challenge })), user.email);
    const callback = callbackOf(landing, client);
    expect(callback).toMatchObject({ state, error: null, code: expect.any(String) });
    expect((await exchangeCode(gh, client, callback.code!, verifier)).status).toBe(200);
    const [granted] = await auditRows(gh, 'consent.granted', { subject: user.id, clientId: client.clientId });
    expect(granted?.details).toMatchObject({ automatic: 'first_party' });
  });

  test('a first-party client that asks with prompt=consent is asked', async () => {
    const client = await registerClient(gh, { first_party: true });
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { challenge } = pkcePair();
    const start = await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge, extra: { prompt: 'consent' } }));
    const page = expectPage(await signIn(browser, start, user.email));
    expect(page.html).toMatch(/name="decision" value="allow"/);
  });

  test('a first-party native app skips consent only right after the person signed in (RFC 8252 §8.6)', async () => {
    const client = await registerClient(gh, {
      name: 'Our Phone App',
      profile: 'native',
      first_party: true,
      redirect_uris: ['http://127.0.0.1:8765/callback'],
      post_logout_redirect_uris: [],
    });
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { verifier, challenge } = pkcePair();
    const signedIn = await signIn(browser, await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge })), user.email);
    const callback = callbackOf(signedIn, client);
    expect((await exchangeCode(gh, client, callback.code!, verifier)).status).toBe(200);

    // From the existing session, without a sign-in, the person is asked.
    const again = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
    expect(again.html).toContain('Our Phone App');
    expect(again.html).toMatch(/name="decision" value="allow"/);
    expect(again.html).toContain('Confirm who you are');
  });

  test('a third-party client is asked for consent even when another client is first-party', async () => {
    const client = await registerClient(gh, { first_party: false });
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { challenge } = pkcePair();
    const page = expectPage(await signIn(browser, await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge })), user.email));
    expect(page.html).toContain('wants to access your account');
  });

  test('Deny returns access_denied to the client, with state and iss, and no code', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { challenge } = pkcePair();
    const state = randomToken();
    const consentPage = await signIn(browser, await browser.get(authorizationUrl(gh, { client, state, codeChallenge: challenge })), user.email);
    const callback = callbackOf(await consent(browser, consentPage, 'deny'), client);
    expect(callback).toMatchObject({ error: 'access_denied', state, code: null, iss: gh.config.issuer });
    const [denied] = await auditRows(gh, 'consent.denied', { subject: user.id });
    expect(denied).toMatchObject({ clientId: client.clientId, outcome: 'success' });
    // Denying records no consent: the next request asks again.
    const again = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge })));
    expect(again.html).toMatch(/name="decision" value="allow"/);
  });

  test('Cancel on the login page returns access_denied to the client', async () => {
    const client = await registerClient(gh);
    const browser = new TestBrowser(gh);
    const { challenge } = pkcePair();
    const state = randomToken();
    const login = expectPage(await browser.get(authorizationUrl(gh, { client, state, codeChallenge: challenge })));
    const callback = callbackOf(await browser.submit(formWithAction(login.html, '/abort')), client);
    expect(callback).toMatchObject({ error: 'access_denied', state, code: null });
  });

  test('offline_access (with prompt=consent) is consented to in plain words and yields a refresh token', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { verifier, challenge } = pkcePair();
    // OpenID Connect Core §11: offline access is requested with prompt=consent; without it,
    // oidc-provider drops the scope.
    const login = await browser.get(
      authorizationUrl(gh, { client, scope: 'openid offline_access', codeChallenge: challenge, extra: { prompt: 'consent' } }),
    );
    const page = expectPage(await signIn(browser, login, user.email));
    expect(page.html).toContain('Stay connected');
    const callback = callbackOf(await consent(browser, page), client);
    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    expect(tokens.body.refresh_token).toEqual(expect.any(String));
    expect(tokens.body.scope).toBe('openid offline_access');
  });

  test('a login_hint that is an email pre-fills the login form', async () => {
    const client = await registerClient(gh);
    const browser = new TestBrowser(gh);
    const { challenge } = pkcePair();
    const page = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge, extra: { login_hint: 'hinted@example.com' } })));
    expect(page.html).toMatch(/name="email" type="email" value="hinted@example.com"/);
  });

  test('discovery lists the sign-in scopes and claims, userinfo and end_session', async () => {
    const body = (await (await fetch(`${gh.config.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(body.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']));
    expect(body.claims_supported).toEqual(expect.arrayContaining(['sub', 'name', 'email', 'email_verified']));
    expect(body.userinfo_endpoint).toBe(`${gh.config.issuer}/me`);
    expect(body.end_session_endpoint).toBe(`${gh.config.issuer}/session/end`);
    expect(body.id_token_signing_alg_values_supported).toEqual(['RS256']);
  });
});
