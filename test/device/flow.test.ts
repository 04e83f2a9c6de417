// The device authorization grant end to end over HTTP (RFC 8628): the device's requests, the
// person's pages (code entry, the same login page, the confirmation) and the device's tokens.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createApi } from '../../src/clients/apis.js';
import { PROVIDERS } from '../support/databases.js';
import {
  TestBrowser,
  auditRows,
  authorizeAndSignIn,
  expectPage,
  formWithAction,
  registerClient,
  registerUser,
  signIn,
  tokenRequest,
  userinfo,
  verifyIdToken,
} from '../support/signin.js';
import {
  PolitePoller,
  USER_CODE_FORMAT,
  decide,
  deviceAuthorizationRequest,
  enterCode,
  inputValue,
  reachConfirmation,
  registerDeviceClient,
  startDeviceAuthorization,
  textOf,
} from '../support/device-flow.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('device authorization grant on %s', (provider) => {
  // A 1 s polling interval keeps the polite device's waits short.
  const gh = useGatehouse(provider, { DEVICE_POLL_INTERVAL: '1' });

  test('the device authorization response (RFC 8628 §3.2): XXXX-XXXX user code, verification URIs, lifetime, interval', async () => {
    const client = await registerDeviceClient(gh);
    const res = await deviceAuthorizationRequest(gh, client, { scope: 'openid profile' });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = res.body;
    expect(body).toEqual({
      device_code: expect.any(String),
      user_code: expect.stringMatching(USER_CODE_FORMAT),
      verification_uri: `${gh.config.issuer}/device`,
      verification_uri_complete: `${gh.config.issuer}/device?user_code=${String(body.user_code)}`,
      expires_in: 600,
      interval: 1,
    });
    // The device code is a long random value, not guessable like the user code.
    expect(String(body.device_code).length).toBeGreaterThanOrEqual(40);
    const discovery = (await (await fetch(`${gh.config.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.device_authorization_endpoint).toBe(`${gh.config.issuer}/device/auth`);
    expect(discovery.grant_types_supported).toEqual(expect.arrayContaining(['urn:ietf:params:oauth:grant-type:device_code']));
  });

  test('a device that keeps to the interval is never told to slow down', async () => {
    const client = await registerDeviceClient(gh);
    const authorization = await startDeviceAuthorization(gh, client);
    expect(authorization.interval).toBe(1);
    const device = new PolitePoller(gh, client, authorization.device_code, 1);
    expect((await device.poll()).body).toMatchObject({ error: 'authorization_pending' });
    expect((await device.poll()).body).toMatchObject({ error: 'authorization_pending' });
  });

  test('a client not allowed the device_code grant gets unauthorized_client', async () => {
    const web = await registerClient(gh);
    const res = await deviceAuthorizationRequest(gh, web, { scope: 'openid' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'unauthorized_client' });
  });

  test('pending, then the login page, the confirmation and Approve; then access, ID and refresh token, once', async () => {
    const client = await registerDeviceClient(gh);
    const user = await registerUser(gh, { name: 'Grace Hopper' });
    const authorization = await startDeviceAuthorization(gh, client, 'openid profile email offline_access');
    const device = new PolitePoller(gh, client, authorization.device_code);

    const pending = await device.poll();
    expect(pending.status).toBe(400);
    expect(pending.body).toMatchObject({ error: 'authorization_pending' });

    // No session: the code entry leads to the same login page as any sign-in.
    const browser = new TestBrowser(gh);
    const login = expectPage(await enterCode(browser, authorization.verification_uri, authorization.user_code));
    expect(login.url.pathname).toMatch(/^\/interaction\/[A-Za-z0-9_-]+$/);
    expect(login.html).toContain('<h1>Sign in</h1>');
    expect(textOf(login.html)).toContain('to continue to Living Room TV');

    const confirmation = expectPage(await signIn(browser, login, user.email));
    const text = textOf(confirmation.html);
    expect(text).toContain('Connect Living Room TV to your account?');
    expect(text).toContain(user.email);
    expect(text).toContain(authorization.user_code);
    for (const words of ['Confirm who you are', 'See your name', 'See your email address', 'Stay connected']) expect(text).toContain(words);
    expect(formWithAction(confirmation.html, '/device').fields).toHaveProperty('csrf');
    expect(confirmation.html).toMatch(/<button[^>]*value="deny"[^>]*>Deny<\/button>/);
    expect(confirmation.html).toMatch(/<button[^>]*value="approve"[^>]*>Approve<\/button>/);

    // Still pending while the person looks at the confirmation.
    expect((await device.poll()).body).toMatchObject({ error: 'authorization_pending' });

    const done = expectPage(await decide(browser, confirmation, 'approve'));
    expect(done.status).toBe(200);
    expect(textOf(done.html)).toContain('Device connected');
    expect(textOf(done.html)).toContain('Living Room TV is now connected to your account');

    const tokens = await device.poll();
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('cache-control')).toBe('no-store');
    expect(tokens.body).toMatchObject({
      access_token: expect.any(String),
      id_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: expect.any(Number),
    });
    expect(String(tokens.body.scope).split(' ').sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);
    const idToken = await verifyIdToken(gh, String(tokens.body.id_token), client.clientId);
    expect(idToken.sub).toBe(user.id);
    expect(await userinfo(gh, String(tokens.body.access_token))).toMatchObject({ status: 200, body: { sub: user.id, email: user.email, name: 'Grace Hopper' } });

    // A device code yields tokens once; presenting it again is treated like a replayed
    // authorization code: what the first exchange issued is revoked (RFC 9700 §4.5).
    const again = await device.poll();
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({ error: 'invalid_grant' });
    const refresh = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: String(tokens.body.refresh_token) });
    expect(refresh.body).toMatchObject({ error: 'invalid_grant' });

    const [approved] = await auditRows(gh, 'device.approved', { subject: user.id, clientId: client.clientId });
    expect(approved).toMatchObject({ outcome: 'success' });
    expect((approved!.details as { scope: string[] }).scope.sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);
  });

  test('the refresh token of a device works for its client', async () => {
    const client = await registerDeviceClient(gh);
    const user = await registerUser(gh);
    const authorization = await startDeviceAuthorization(gh, client);
    const browser = new TestBrowser(gh);
    await decide(browser, await reachConfirmation(browser, authorization, user.email), 'approve');
    const tokens = await new PolitePoller(gh, client, authorization.device_code).poll();
    expect(tokens.status).toBe(200);
    const refreshed = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: String(tokens.body.refresh_token) });
    expect(refreshed.status).toBe(200);
    expect(refreshed.body).toMatchObject({ access_token: expect.any(String), refresh_token: expect.any(String) });
  });

  test('without offline_access there is no refresh token', async () => {
    const client = await registerDeviceClient(gh);
    const user = await registerUser(gh);
    const authorization = await startDeviceAuthorization(gh, client, 'openid profile');
    const browser = new TestBrowser(gh);
    const confirmation = await reachConfirmation(browser, authorization, user.email);
    expect(textOf(confirmation.html)).not.toContain('Stay connected');
    await decide(browser, confirmation, 'approve');
    const tokens = await new PolitePoller(gh, client, authorization.device_code).poll();
    expect(tokens.status).toBe(200);
    expect(tokens.body).toHaveProperty('id_token');
    expect(tokens.body).not.toHaveProperty('refresh_token');
  });

  test("a device asking for an API's scopes: the confirmation names the API, the access token is for it", async () => {
    const identifier = `https://media.example.com/${Date.now()}`;
    await createApi(gh.db.prisma, { identifier, name: 'Media Library', scopes: ['media:read', 'media:write'] });
    const client = await registerDeviceClient(gh, { apis: [{ identifier, scopes: ['media:read'] }], default_api: identifier });
    const user = await registerUser(gh);
    const authorization = await startDeviceAuthorization(gh, client, 'openid media:read');
    const browser = new TestBrowser(gh);
    const confirmation = await reachConfirmation(browser, authorization, user.email);
    const text = textOf(confirmation.html);
    expect(text).toContain('Use Media Library on your behalf');
    expect(text).toContain('With these permissions: media:read.');
    await decide(browser, confirmation, 'approve');

    const tokens = await new PolitePoller(gh, client, authorization.device_code).poll();
    expect(tokens.status).toBe(200);
    const accessToken = String(tokens.body.access_token);
    expect(decodeProtectedHeader(accessToken).typ).toBe('at+jwt');
    expect(decodeJwt(accessToken)).toMatchObject({ aud: identifier, scope: 'media:read', sub: user.id, client_id: client.clientId });
  });

  test('Deny: the device gets access_denied, the person a page saying so, the audit trail device.denied', async () => {
    const client = await registerDeviceClient(gh);
    const user = await registerUser(gh);
    const authorization = await startDeviceAuthorization(gh, client);
    const device = new PolitePoller(gh, client, authorization.device_code);
    expect((await device.poll()).body).toMatchObject({ error: 'authorization_pending' });
    const browser = new TestBrowser(gh);
    const denied = expectPage(await decide(browser, await reachConfirmation(browser, authorization, user.email), 'deny'));
    expect(textOf(denied.html)).toContain('Access denied');
    expect(textOf(denied.html)).toContain('Living Room TV was not connected to your account');

    const answer = await device.poll();
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'access_denied' });
    expect(await auditRows(gh, 'device.denied', { subject: user.id, clientId: client.clientId })).toHaveLength(1);
    expect(await gh.db.prisma.auditEvent.count({ where: { type: 'device.approved', clientId: client.clientId } })).toBe(0);
  });

  test('Cancel on the login page denies the device too', async () => {
    const client = await registerDeviceClient(gh);
    const authorization = await startDeviceAuthorization(gh, client);
    const browser = new TestBrowser(gh);
    const login = expectPage(await enterCode(browser, authorization.verification_uri, authorization.user_code));
    const cancelled = expectPage(await browser.submit(formWithAction(login.html, '/abort')));
    expect(textOf(cancelled.html)).toContain('Access denied');
    expect((await new PolitePoller(gh, client, authorization.device_code).poll()).body).toMatchObject({ error: 'access_denied' });
  });

  test('verification_uri_complete fills the code in; a signed-in person still confirms before anything is approved', async () => {
    const client = await registerDeviceClient(gh);
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    // Sign in to Gatehouse first, through an ordinary web application.
    const web = await registerClient(gh, { name: 'Acme Notes' });
    expect((await authorizeAndSignIn(gh, browser, web, user.email)).callback.code).toEqual(expect.any(String));

    const authorization = await startDeviceAuthorization(gh, client);
    const entry = expectPage(await browser.get(authorization.verification_uri_complete));
    expect(entry.status).toBe(200);
    expect(inputValue(entry.html, 'user_code')).toBe(authorization.user_code);
    // Opening the link approved nothing.
    const device = new PolitePoller(gh, client, authorization.device_code);
    expect((await device.poll()).body).toMatchObject({ error: 'authorization_pending' });

    // With a session, Continue leads straight to the confirmation, not to the login page.
    // What the browser sends: the hidden fields and the filled-in code.
    const confirmation = expectPage(await browser.submit(formWithAction(entry.html, '/device'), { user_code: inputValue(entry.html, 'user_code')! }));
    expect(confirmation.html).not.toContain('/login"');
    expect(textOf(confirmation.html)).toContain(`Connect Living Room TV to your account?`);
    expect((await device.poll()).body).toMatchObject({ error: 'authorization_pending' });

    await decide(browser, confirmation, 'approve');
    expect((await device.poll()).status).toBe(200);
  });

  test('earlier consent and first-party status never skip the confirmation', async () => {
    const client = await registerDeviceClient(gh, { first_party: true });
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const first = await startDeviceAuthorization(gh, client);
    await decide(browser, await reachConfirmation(browser, first, user.email), 'approve');
    expect((await new PolitePoller(gh, client, first.device_code).poll()).status).toBe(200);

    // Same person, same client, same scopes, same browser session: asked again.
    const second = await startDeviceAuthorization(gh, client);
    const landing = await enterCode(browser, second.verification_uri, second.user_code);
    const confirmation = expectPage(landing);
    expect(confirmation.html).toContain('name="decision" value="approve"');
    expect(textOf(confirmation.html)).toContain(second.user_code);
    expect((await new PolitePoller(gh, client, second.device_code).poll()).body).toMatchObject({ error: 'authorization_pending' });
  });

  test('a code that was approved cannot be entered again', async () => {
    const client = await registerDeviceClient(gh);
    const user = await registerUser(gh);
    const authorization = await startDeviceAuthorization(gh, client);
    const browser = new TestBrowser(gh);
    await decide(browser, await reachConfirmation(browser, authorization, user.email), 'approve');
    const reused = expectPage(await enterCode(new TestBrowser(gh), authorization.verification_uri, authorization.user_code));
    expect(reused.status).toBe(400);
    expect(textOf(reused.html)).toContain('This code has already been used');
  });

  test('the confirmation refuses a post without its CSRF token, and approves nothing', async () => {
    const client = await registerDeviceClient(gh);
    const user = await registerUser(gh);
    const authorization = await startDeviceAuthorization(gh, client);
    const browser = new TestBrowser(gh);
    const confirmation = await reachConfirmation(browser, authorization, user.email);
    const form = formWithAction(confirmation.html, '/device');
    const forged = expectPage(await browser.post(form.action, { decision: 'approve' }));
    expect(forged.status).toBe(403);
    const wrongToken = expectPage(await browser.post(form.action, { decision: 'approve', csrf: 'A'.repeat(43) }));
    expect(wrongToken.status).toBe(403);
    expect((await new PolitePoller(gh, client, authorization.device_code).poll()).body).toMatchObject({ error: 'authorization_pending' });
    // The genuine form still works.
    expect(textOf(expectPage(await decide(browser, confirmation, 'approve')).html)).toContain('Device connected');
  });

  test('another client cannot redeem the device code', async () => {
    const client = await registerDeviceClient(gh);
    const other = await registerDeviceClient(gh, { name: 'Kitchen Radio' });
    const user = await registerUser(gh);
    const authorization = await startDeviceAuthorization(gh, client);
    const browser = new TestBrowser(gh);
    await decide(browser, await reachConfirmation(browser, authorization, user.email), 'approve');
    const stolen = await new PolitePoller(gh, other, authorization.device_code).poll();
    expect(stolen.status).toBe(400);
    expect(stolen.body).toMatchObject({ error: 'invalid_grant' });
    expect((await new PolitePoller(gh, client, authorization.device_code).poll()).status).toBe(200);
  });
});
