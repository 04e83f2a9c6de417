// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): our confirmation page, a
// redirect only to a registered post_logout_redirect_uri, the session and its tokens ended,
// the consent kept, and the audit event.
import { PROVIDERS } from '../support/databases.js';
import {
  TestBrowser,
  auditRows,
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
  userinfo,
} from '../support/signin.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('logout on %s', (provider) => {
  const gh = useGatehouse(provider);
  const client = useBeforeAll(() => registerClient(gh));

  async function signedIn() {
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, browser, client, user.email);
    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    return { user, browser, idToken: tokens.body.id_token as string, accessToken: tokens.body.access_token as string };
  }

  function endSessionUrl(params: Record<string, string>): URL {
    const url = new URL(`${gh.config.issuer}/session/end`);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url;
  }

  test('confirm, sign out, return to the registered post_logout_redirect_uri with state', async () => {
    const { user, browser, idToken, accessToken } = await signedIn();
    const state = randomToken();
    const page = expectPage(
      await browser.get(endSessionUrl({ id_token_hint: idToken, post_logout_redirect_uri: client.postLogoutRedirectUri, state })),
    );
    expect(page.status).toBe(200);
    expect(page.html).toContain('Sign out of Gatehouse?');
    expect(page.html).toContain('Acme Notes');
    expect(page.html).toContain(user.email);
    expect(page.html).not.toMatch(/<script/i);
    // The confirmation may lead to the registered post-logout URI, and nowhere else.
    expect(page.headers.get('content-security-policy')).toMatch(/form-action 'self' http:\/\/127\.0\.0\.1:8765(;|$)/);
    const form = formWithAction(page.html, '/session/end/confirm');
    expect(form.fields.xsrf).toEqual(expect.any(String));

    const landing = expectRedirect(await browser.post(form.action, { ...form.fields, logout: 'yes' }));
    expect(landing.status).toBe(303);
    expect(`${landing.location.origin}${landing.location.pathname}`).toBe(client.postLogoutRedirectUri);
    expect(landing.location.searchParams.get('state')).toBe(state);

    // The session is over: the next authorization request asks for a login again...
    const { verifier, challenge } = pkcePair();
    const login = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge })));
    expect(login.html).toContain('/login"');
    // ...its tokens (no offline_access) are revoked...
    expect((await userinfo(gh, accessToken)).status).toBe(401);
    // ...but consent is remembered: signing in again goes straight back to the client.
    const callback = callbackOf(await signIn(browser, login, user.email), client);
    expect((await exchangeCode(gh, client, callback.code!, verifier)).status).toBe(200);

    const [logout] = await auditRows(gh, 'logout', { subject: user.id });
    expect(logout).toMatchObject({ outcome: 'success', clientId: client.clientId });
    expect(logout?.details).toMatchObject({ everywhere: true });
  });

  test('the logout form without its xsrf token is refused', async () => {
    const { browser, idToken, accessToken } = await signedIn();
    const page = expectPage(await browser.get(endSessionUrl({ id_token_hint: idToken })));
    const form = formWithAction(page.html, '/session/end/confirm');
    const refused = expectPage(await browser.post(form.action, { logout: 'yes' }));
    expect(refused.status).toBe(400);
    expect((await userinfo(gh, accessToken)).status).toBe(200);
  });

  test('an unregistered post_logout_redirect_uri is an error page, never a redirect', async () => {
    const { browser, idToken } = await signedIn();
    const page = expectPage(await browser.get(endSessionUrl({ id_token_hint: idToken, post_logout_redirect_uri: 'https://attacker.example/bye' })));
    expect(page.status).toBe(400);
    expect(page.html).not.toContain('attacker.example');
    expect(browser.hops.at(-1)).toMatchObject({ status: 400 });
  });

  test('without post_logout_redirect_uri, our signed-out page is shown', async () => {
    const { browser, idToken } = await signedIn();
    const page = expectPage(await browser.get(endSessionUrl({ id_token_hint: idToken })));
    const form = formWithAction(page.html, '/session/end/confirm');
    const done = expectPage(await browser.post(form.action, { ...form.fields, logout: 'yes' }));
    expect(done.status).toBe(200);
    expect(done.html).toContain('You are signed out');
    expect(done.html).toContain('You have signed out of Gatehouse in this browser.');
  });

  test('"Stay signed in" ends only the application\'s part of the session', async () => {
    const { browser, idToken, accessToken } = await signedIn();
    const page = expectPage(await browser.get(endSessionUrl({ id_token_hint: idToken })));
    const form = formWithAction(page.html, '/session/end/confirm');
    const done = expectPage(await browser.post(form.action, form.fields));
    expect(done.html).toContain('You have signed out of');
    expect(done.html).toContain('Acme Notes');
    // That application's tokens are revoked; the Gatehouse session goes on (no login page).
    expect((await userinfo(gh, accessToken)).status).toBe(401);
    const { challenge } = pkcePair();
    expect(callbackOf(await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge })), client).code).toEqual(expect.any(String));
    const [logout] = await auditRows(gh, 'logout', { clientId: client.clientId }, 1);
    expect(logout).toBeDefined();
  });

  test('logout with no session is handed on by a self-submitting form allowed by a script hash', async () => {
    const page = expectPage(await new TestBrowser(gh).get(endSessionUrl({})));
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    // Only the hash of oidc-provider's one inline script is allowed, not inline script in general.
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).not.toContain('unsafe-inline');
  });
});
