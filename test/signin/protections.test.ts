// What the authorization code flow refuses (each block names the section it follows). Each
// test shows the refusal and, where it helps, that the same request succeeds once the one
// thing wrong with it is put right, so it fails if the protection is removed.
import { PROVIDERS } from '../support/databases.js';
import {
  TestBrowser,
  authorizationUrl,
  authorizeAndSignIn,
  callbackOf,
  exchangeCode,
  expectPage,
  expectRedirect,
  formWithAction,
  pkcePair,
  randomToken,
  registerClient,
  registerUser,
  signIn,
  tokenRequest,
  userinfo,
} from '../support/signin.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('authorization code protections on %s', (provider) => {
  const gh = useGatehouse(provider);

  describe('PKCE (RFC 7636, RFC 9700 §2.1.1)', () => {
    test('an authorization request without code_challenge is refused, for a confidential client too', async () => {
      const client = await registerClient(gh);
      expect(client.clientSecret).toEqual(expect.any(String));
      const state = randomToken();
      const callback = callbackOf(await new TestBrowser(gh).get(authorizationUrl(gh, { client, state, codeChallenge: null, codeChallengeMethod: null })), client);
      expect(callback).toMatchObject({ error: 'invalid_request', state, code: null, iss: gh.config.issuer });
      expect(callback.errorDescription).toMatch(/PKCE/);
    });

    test('code_challenge_method=plain is refused', async () => {
      const client = await registerClient(gh);
      const { verifier } = pkcePair();
      const callback = callbackOf(
        await new TestBrowser(gh).get(authorizationUrl(gh, { client, codeChallenge: verifier, codeChallengeMethod: 'plain' })),
        client,
      );
      expect(callback).toMatchObject({ error: 'invalid_request', code: null });
      expect(callback.errorDescription).toMatch(/code_challenge_method/);
    });

    test('a wrong code_verifier gets invalid_grant; the right one would have worked', async () => {
      const client = await registerClient(gh);
      const user = await registerUser(gh);
      const browser = new TestBrowser(gh);
      const first = await authorizeAndSignIn(gh, browser, client, user.email);
      const wrong = await exchangeCode(gh, client, first.callback.code!, pkcePair().verifier);
      expect(wrong.status).toBe(400);
      expect(wrong.body).toMatchObject({ error: 'invalid_grant' });

      const second = await authorizeAndSignIn(gh, browser, client, user.email);
      expect((await exchangeCode(gh, client, second.callback.code!, second.verifier)).status).toBe(200);
    });

    test('a token request without code_verifier gets invalid_grant', async () => {
      const client = await registerClient(gh);
      const user = await registerUser(gh);
      const { callback } = await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email);
      const missing = await exchangeCode(gh, client, callback.code!, undefined);
      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({ error: 'invalid_grant' });
    });
  });

  describe('authorization codes (RFC 6749 §4.1.2, RFC 9700 §4.5)', () => {
    test('a replayed code fails, and what the first exchange issued is revoked', async () => {
      const client = await registerClient(gh);
      const user = await registerUser(gh);
      // prompt=consent: offline_access is granted only with it, so the first exchange issues a refresh token.
      const { callback, verifier } = await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email, {
        scope: 'openid email offline_access',
        extra: { prompt: 'consent' },
      });
      const first = await exchangeCode(gh, client, callback.code!, verifier);
      expect(first.status).toBe(200);
      expect(first.body.refresh_token).toEqual(expect.any(String));
      const accessToken = first.body.access_token as string;
      expect((await userinfo(gh, accessToken)).status).toBe(200);

      const replay = await exchangeCode(gh, client, callback.code!, verifier);
      expect(replay.status).toBe(400);
      expect(replay.body).toMatchObject({ error: 'invalid_grant' });

      // RFC 6749 §4.1.2: "the authorization server ... SHOULD revoke (when possible) all tokens
      // previously issued based on that authorization code".
      expect((await userinfo(gh, accessToken)).status).toBe(401);
      const refresh = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string });
      expect(refresh.body).toMatchObject({ error: 'invalid_grant' });
    });

    test('a code is bound to its redirect_uri', async () => {
      const other = 'http://127.0.0.1:8765/other-callback';
      const client = await registerClient(gh, { redirect_uris: ['http://127.0.0.1:8765/callback', other] });
      const user = await registerUser(gh);
      const { callback, verifier } = await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email);
      const mismatch = await exchangeCode(gh, client, callback.code!, verifier, other);
      expect(mismatch.body).toMatchObject({ error: 'invalid_grant' });
    });

    test('a code is bound to its client', async () => {
      const client = await registerClient(gh);
      const thief = await registerClient(gh, { name: 'Thief' });
      const user = await registerUser(gh);
      const { callback, verifier } = await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email);
      const stolen = await exchangeCode(gh, thief, callback.code!, verifier, client.redirectUri);
      expect(stolen.body).toMatchObject({ error: 'invalid_grant' });
      expect((await exchangeCode(gh, client, callback.code!, verifier)).status).toBe(200);
    });
  });

  describe('redirect URIs (RFC 9700 §4.1.3: exact matching)', () => {
    const registered = 'http://127.0.0.1:8765/callback';
    test.each([
      ['a trailing slash', `${registered}/`],
      ['another port', 'http://127.0.0.1:8766/callback'],
      ['another path case', 'http://127.0.0.1:8765/Callback'],
      ['an added query', `${registered}?next=/admin`],
      ['a prefix match', 'http://127.0.0.1:8765/callback-evil'],
      ['another host', 'https://attacker.example/callback'],
    ])('%s is not registered: an error page, never a redirect', async (_what, redirectUri) => {
      const client = await registerClient(gh, { redirect_uris: [registered] });
      const browser = new TestBrowser(gh);
      const page = expectPage(await browser.get(authorizationUrl(gh, { client, redirectUri, codeChallenge: pkcePair().challenge })));
      expect(page.status).toBe(400);
      expect(page.html).toContain('address that is not registered');
      expect(page.html).not.toContain(redirectUri);
      expect(browser.hops).toHaveLength(1);
      // The registered URI itself works.
      const ok = await new TestBrowser(gh).get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge }));
      expect(expectPage(ok).html).toContain('/login"');
    });
  });

  describe('response types (RFC 9700 §2.1.2)', () => {
    test.each(['token', 'id_token', 'code id_token', 'code token'])('response_type=%s is refused and no token is issued', async (responseType) => {
      const client = await registerClient(gh);
      const state = randomToken();
      const landing = expectRedirect(
        await new TestBrowser(gh).get(authorizationUrl(gh, { client, state, responseType, nonce: randomToken(), codeChallenge: pkcePair().challenge })),
      );
      const params = new URLSearchParams(landing.location.hash.slice(1) || landing.location.search.slice(1));
      expect(params.get('error')).toBe('unsupported_response_type');
      expect(params.get('access_token')).toBeNull();
      expect(params.get('id_token')).toBeNull();
      expect(params.get('code')).toBeNull();
    });

    test('grant_type=password is refused at the token endpoint', async () => {
      const client = await registerClient(gh);
      const user = await registerUser(gh);
      const res = await tokenRequest(gh, client, { grant_type: 'password', username: user.email, password: 'correct horse battery staple' });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'unsupported_grant_type' });
    });
  });

  describe('interaction forms (CSRF, bounded and validated bodies)', () => {
    async function loginPage(browser: TestBrowser) {
      const client = await registerClient(gh);
      const { verifier, challenge } = pkcePair();
      const page = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge })));
      return { client, verifier, page, form: formWithAction(page.html, '/login') };
    }

    test('a login post without the CSRF token is refused (403) and signs nobody in', async () => {
      const user = await registerUser(gh);
      const browser = new TestBrowser(gh);
      const { client, form, page } = await loginPage(browser);
      const { csrf: _csrf, ...withoutToken } = form.fields;
      const refused = expectPage(await browser.post(form.action, { ...withoutToken, email: user.email, password: 'correct horse battery staple' }));
      expect(refused.status).toBe(403);
      expect(refused.html).toContain('This form could not be accepted');
      // Still not signed in: the same interaction still shows the login page.
      expect(expectPage(await browser.get(page.url)).html).toContain('/login"');
      expect(await gh.db.prisma.auditEvent.count({ where: { type: 'login.success', subject: user.id } })).toBe(0);
      // With the token, the same post signs in.
      const ok = await signIn(browser, await browser.get(page.url), user.email);
      expect(expectPage(ok).html).toContain('/consent"');
      void client;
    });

    test("a CSRF token of another interaction is refused", async () => {
      const user = await registerUser(gh);
      const browser = new TestBrowser(gh);
      const first = await loginPage(browser);
      const second = await loginPage(browser);
      const refused = expectPage(
        await browser.post(second.form.action, { csrf: first.form.fields.csrf!, email: user.email, password: 'correct horse battery staple' }),
      );
      expect(refused.status).toBe(403);
    });

    test('a consent post without the CSRF token is refused and issues no code', async () => {
      const user = await registerUser(gh);
      const browser = new TestBrowser(gh);
      const { page } = await loginPage(browser);
      const consentPage = expectPage(await signIn(browser, page, user.email));
      const form = formWithAction(consentPage.html, '/consent');
      const refused = expectPage(await browser.post(form.action, { decision: 'allow' }));
      expect(refused.status).toBe(403);
      expect(await gh.db.prisma.auditEvent.count({ where: { type: 'consent.granted', subject: user.id } })).toBe(0);
    });

    test('a form posted to an interaction this browser did not start is refused', async () => {
      const browser = new TestBrowser(gh);
      const { form } = await loginPage(browser);
      const elsewhere = form.action.replace(/\/interaction\/[^/]+\//, '/interaction/AAAAAAAAAAAAAAAAAAAAA/');
      const refused = expectPage(await browser.post(elsewhere, { ...form.fields, email: 'x@example.com', password: 'y' }));
      expect(refused.status).toBe(400);
      expect(refused.html).toContain('This sign-in page has expired');
    });

    test('unknown fields, repeated fields, oversized bodies and other media types are refused', async () => {
      const browser = new TestBrowser(gh);
      const { form } = await loginPage(browser);
      const fields = { ...form.fields, email: 'x@example.com', password: 'whatever-password' };
      expect(expectPage(await browser.post(form.action, { ...fields, is_admin: 'true' })).status).toBe(400);

      const repeated = `${new URLSearchParams(fields).toString()}&email=y%40example.com`;
      const res = await browser.jar.fetch(new URL(form.action, gh.config.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: repeated,
      });
      expect(res.status).toBe(400);

      expect(expectPage(await browser.post(form.action, { ...fields, password: 'p'.repeat(20_000) })).status).toBe(413);

      const json = await browser.jar.fetch(new URL(form.action, gh.config.issuer), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/html' },
        body: JSON.stringify(fields),
      });
      expect(json.status).toBe(415);
      expect(await json.text()).not.toMatch(/at .*\.(ts|js):\d+/);
    });

    test('an expired or unknown interaction shows a friendly page, not internals', async () => {
      const page = expectPage(await new TestBrowser(gh).get(`${gh.config.issuer}/interaction/doesnotexist`));
      expect(page.status).toBe(400);
      expect(page.html).toContain('This sign-in page has expired');
      expect(page.html).not.toMatch(/Error:|at .*\.(ts|js):\d+|SessionNotFound/);
    });
  });
});
