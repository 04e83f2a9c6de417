// Redaction (logs must not leak credentials): drive every flow this server offers, at the most
// verbose log level, then search everything logged and every audit row for the tokens, codes,
// secrets and passwords the flows used. None may appear. The same flows must have produced the
// audit events they stand for, so an empty log cannot pass.
import { randomUUID } from 'node:crypto';
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { freePort, startGatehouse, TEST_KEY_ENCRYPTION_SECRET, type TestGatehouse } from '../support/gatehouse.js';
import {
  auditRows,
  authorizationUrl,
  authorizeAndSignIn,
  exchangeCode,
  expectPage,
  expectRedirect,
  formsOf,
  formWithAction,
  PASSWORD,
  pkcePair,
  randomToken,
  registerClient,
  registerUser,
  signIn,
  TestBrowser,
  tokenRequest,
  userinfo,
} from '../support/signin.js';
import { assertionKey, clientAssertion, JWT_BEARER } from '../support/client-assertion.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { linkIn, startSmtp, type TestSmtp } from '../support/smtp.js';

const ORDERS = 'https://api.example.com/orders';

describe.each(PROVIDERS)('nothing secret is logged or audited (%s)', (provider) => {
  let gh: TestGatehouse;
  let smtp: TestSmtp;
  const redisPassword = `redis-password-${randomUUID()}`;
  const used = new Map<string, string>();
  /** Remembers a value the flows used, by what it is, for the search at the end. */
  const secret = (what: string, value: unknown): string => {
    if (typeof value !== 'string' || value.length < 8) throw new Error(`${what} is missing or too short to search for: ${String(value)}`);
    used.set(`${what} #${used.size}`, value);
    return value;
  };
  const cookiesOf = (browser: TestBrowser) => {
    for (const pair of browser.jar.header(new URL(gh.config.issuer)).split('; ')) {
      const value = pair.slice(pair.indexOf('=') + 1);
      if (value.length >= 8) secret('cookie', value);
    }
  };

  beforeAll(async () => {
    smtp = await startSmtp();
    gh = await startGatehouse(provider, {
      // Self-service mail goes to a real SMTP server whose password is in SMTP_URL.
      SMTP_URL: smtp.url,
      SIGNUP: 'open',
      LOG_LEVEL: 'trace',
      LOGIN_LOCKOUT_THRESHOLD: '2',
      LOGIN_IP_LIMIT: '6',
      // Redis is configured but down: the warning names where, never the password in the URL.
      REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${await freePort()}`,
    });
    secret('key-encryption secret', TEST_KEY_ENCRYPTION_SECRET);
    secret('Redis password', redisPassword);
    secret('SMTP password', smtp.password);
  });
  afterAll(async () => {
    await gh.close();
    await smtp.close();
  });

  test('every flow, then a search of all log output and audit rows', async () => {
    const url = endpoints(gh);

    // Sign-in with PKCE, consent, code exchange, userinfo, refresh, introspection, refresh replay.
    const client = await registerClient(gh, { grant_types: ['authorization_code', 'refresh_token'] });
    secret('client secret', client.clientSecret);
    const user = await registerUser(gh);
    secret('password', PASSWORD);
    const browser = new TestBrowser(gh);
    const signedIn = await authorizeAndSignIn(gh, browser, client, user.email, { scope: 'openid email offline_access', extra: { prompt: 'consent' } });
    secret('authorization code', signedIn.callback.code);
    secret('code verifier', signedIn.verifier);
    secret('state', signedIn.state);
    secret('nonce', signedIn.nonce);
    cookiesOf(browser);
    const tokens = await exchangeCode(gh, client, signedIn.callback.code!, signedIn.verifier);
    expect(tokens.status).toBe(200);
    secret('access token', tokens.body.access_token);
    secret('ID token', tokens.body.id_token);
    secret('refresh token', tokens.body.refresh_token);
    expect((await userinfo(gh, tokens.body.access_token as string)).status).toBe(200);
    const refreshed = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string });
    expect(refreshed.status).toBe(200);
    secret('rotated refresh token', refreshed.body.refresh_token);
    secret('refreshed access token', refreshed.body.access_token);
    const clientAuth = basicAuth(client.clientId, client.clientSecret!);
    expect((await postForm(url.introspection, { token: refreshed.body.refresh_token as string }, { authorization: clientAuth })).body).toMatchObject({ active: true });
    const replay = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string });
    expect(replay.body).toMatchObject({ error: 'invalid_grant' });

    // A code replayed after its exchange.
    const again = await authorizeAndSignIn(gh, browser, client, user.email);
    secret('second authorization code', again.callback.code);
    secret('second code verifier', again.verifier);
    expect((await exchangeCode(gh, client, again.callback.code!, again.verifier)).status).toBe(200);
    expect((await exchangeCode(gh, client, again.callback.code!, again.verifier)).body).toMatchObject({ error: 'invalid_grant' });

    // Revocation (the replays above already revoked what the token belonged to).
    expect((await postForm(url.revocation, { token: refreshed.body.refresh_token as string }, { authorization: clientAuth })).status).toBe(200);

    // Account self-service (issue 20): the account page (password, email change, verification),
    // each with its emailed link; a reset and a sign-up follow the logout below.
    const confirmLink = async (to: string, path: string) => {
      const link = linkIn(await smtp.nextTo(to), path);
      secret(`emailed ${path} token`, link.searchParams.get('token'));
      return link;
    };
    const accountPage = async () => expectPage(await browser.get(`${gh.config.issuer}/account`)).html;
    const changedPassword = secret('password changed on the account page', `Account-Page-Password-${randomToken()}`);
    const passwordForm = formWithAction(await accountPage(), '/account/password');
    secret('account page CSRF token', passwordForm.fields.csrf);
    expectPage(await browser.submit(passwordForm, { current_password: PASSWORD, new_password: changedPassword }));
    await gh.db.prisma.user.update({ where: { id: user.id }, data: { emailVerified: false } });
    expectPage(await browser.submit(formWithAction(await accountPage(), '/account/verify-email')));
    const verifyLink = await confirmLink(user.email, '/email-verification/confirm');
    const verifyForm = formWithAction(expectPage(await browser.get(verifyLink)).html, '/email-verification/confirm');
    secret('confirmation page CSRF token', verifyForm.fields.csrf);
    expectPage(await browser.submit(verifyForm));
    const movedTo = `moved-${randomToken().toLowerCase()}@example.org`;
    expectPage(await browser.submit(formWithAction(await accountPage(), '/account/email'), { new_email: movedTo, current_password: changedPassword }));
    const changeLink = await confirmLink(movedTo, '/email-verification/confirm');
    expectPage(await browser.submit(formWithAction(expectPage(await browser.get(changeLink)).html, '/email-verification/confirm')));
    await smtp.nextTo(user.email);
    cookiesOf(browser);

    // Logout with an ID token hint.
    const logoutPage = expectPage(
      await browser.get(`${gh.config.issuer}/session/end?id_token_hint=${encodeURIComponent(tokens.body.id_token as string)}&post_logout_redirect_uri=${encodeURIComponent(client.postLogoutRedirectUri)}`),
    );
    const logoutForm = formWithAction(logoutPage.html, '/session/end/confirm');
    secret('logout xsrf token', logoutForm.fields.xsrf);
    expectRedirect(await browser.post(logoutForm.action, { ...logoutForm.fields, logout: 'yes' }));

    // A password reset (it ends the person's sessions, so after the logout above) and a sign-up.
    const resetRequest = formWithAction(expectPage(await browser.get(`${gh.config.issuer}/password-reset`)).html, '/password-reset');
    secret('reset request CSRF token', resetRequest.fields.csrf);
    expectPage(await browser.submit(resetRequest, { email: movedTo }));
    expectPage(await browser.submit(resetRequest, { email: `nobody-${movedTo}` }));
    const resetLink = await confirmLink(movedTo, '/password-reset/confirm');
    const resetPassword = secret('password set by a reset', `Reset-Password-${randomToken()}`);
    expectPage(await browser.submit(formWithAction(expectPage(await browser.get(resetLink)).html, '/password-reset/confirm'), { password: resetPassword }));
    const newcomer = `newcomer-${randomToken().toLowerCase()}@example.net`;
    const signUpPassword = secret('sign-up password', `Sign-Up-Password-${randomToken()}`);
    const signUpForm = formWithAction(expectPage(await browser.get(`${gh.config.issuer}/sign-up`)).html, '/sign-up');
    expectPage(await browser.submit(signUpForm, { name: 'New Comer', email: newcomer, password: signUpPassword }));
    await confirmLink(newcomer, '/email-verification/confirm');
    cookiesOf(browser);

    // Client credentials with a secret (Basic and in the body) and with a signed assertion.
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const service = await createClient(gh.db.prisma, { name: 'svc', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    secret('service secret', service.clientSecret);
    const cc = await postForm(url.token, { grant_type: 'client_credentials' }, { authorization: basicAuth(service.client.client_id, service.clientSecret!) });
    expect(cc.status).toBe(200);
    secret('JWT access token', cc.body.access_token);
    const key = await assertionKey();
    const signer = await createClient(gh.db.prisma, {
      name: 'jwt',
      profile: 'service',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [key.publicJwk] },
      apis: [{ identifier: ORDERS, scopes: ['orders:read'] }],
      default_api: ORDERS,
    });
    const assertion = secret('client assertion', await clientAssertion(key, signer.client.client_id, url.token));
    const viaAssertion = await postForm(url.token, { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion });
    expect(viaAssertion.status).toBe(200);
    secret('JWT access token (assertion)', viaAssertion.body.access_token);
    // The same assertion replayed, and wrong secrets in the header and in the body.
    expect((await postForm(url.token, { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion })).status).toBe(401);
    const wrongSecret = secret('wrong client secret', `ghs_${randomToken()}${randomToken()}`);
    expect((await postForm(url.token, { grant_type: 'client_credentials' }, { authorization: basicAuth(service.client.client_id, wrongSecret) })).status).toBe(401);
    expect((await postForm(url.token, { grant_type: 'client_credentials', client_id: client.clientId, client_secret: wrongSecret })).status).toBe(401);

    // Failed sign-ins: an unknown email, wrong passwords up to a lockout, then the rate limit.
    const victim = await registerUser(gh);
    const attempt = async (email: string, password: string) => {
      const b = new TestBrowser(gh);
      const page = expectPage(await b.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
      secret('login CSRF token', formsOf(page.html).find((f) => f.action.endsWith('/login'))?.fields.csrf);
      return expectPage(await signIn(b, page, email, password));
    };
    const typed = (n: number) => secret('typed wrong password', `Typed-Wrong-Password-${n}-${randomToken()}`);
    expect((await attempt(`nobody-${victim.email}`, typed(1))).status).toBe(400);
    expect((await attempt(victim.email, typed(2))).status).toBe(400);
    expect((await attempt(victim.email, typed(3))).status).toBe(400);
    expect((await attempt(victim.email, PASSWORD)).status).toBe(400);
    for (let i = 4; i < 7; i++) await attempt(`someone-${i}@example.com`, typed(i));
    expect((await attempt(user.email, PASSWORD)).status).toBe(429);

    // The flows left their audit trail (so the search below has something to search).
    for (const type of [
      'login.success',
      'login.failure',
      'account.locked',
      'consent.granted',
      'token.issued',
      'refresh.reuse_detected',
      'client.auth_failed',
      'logout',
      'password.changed',
      'email.verified',
      'email_change.completed',
      'password_reset.requested',
      'password_reset.completed',
      'signup.created',
    ]) {
      expect([type, (await auditRows(gh, type)).length > 0]).toEqual([type, true]);
      expect([type, gh.logs.some((line) => line.includes(`"audit ${type}"`))]).toEqual([type, true]);
    }
    expect(gh.logs.some((line) => line.includes('Redis not reachable at start-up'))).toBe(true);

    const logs = gh.logs.join('');
    const audit = JSON.stringify(await gh.db.prisma.auditEvent.findMany());
    const found: string[] = [];
    for (const [what, value] of used) {
      for (const form of new Set([value, encodeURIComponent(value), Buffer.from(value).toString('base64')])) {
        if (logs.includes(form)) found.push(`${what} in the logs`);
        if (audit.includes(form)) found.push(`${what} in the audit trail`);
      }
    }
    expect(found).toEqual([]);
    expect(used.size).toBeGreaterThan(25);
  });
});
