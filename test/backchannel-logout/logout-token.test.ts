// OpenID Connect Back-Channel Logout 1.0: a client registers backchannel_logout_uri; when the
// person signs out (end_session), is disabled or loses the grant, a logout token reaches the
// client's receiver (started here) through the outbox, and verifies with jose against the JWKS.
// The sign-out itself never waits for the receiver.
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { queueBackchannelLogout } from '../../src/backchannel-logout/queue.js';
import { PROVIDERS } from '../support/databases.js';
import { eventually } from '../support/eventually.js';
import { TestBrowser, authorizeAndSignIn, exchangeCode, expectRedirect, formWithAction, expectPage, registerClient, registerUser, type TestClient } from '../support/signin.js';
import { useGatehouse } from '../support/use-gatehouse.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

describe.each(PROVIDERS)('back-channel logout on %s', (provider) => {
  const gh = useGatehouse(provider, { WEBHOOK_ALLOW_TARGETS: 'loopback', WEBHOOK_RETRY_INITIAL_DELAY: '1', WEBHOOK_TIMEOUT: '2' });
  let receiver: WebhookReceiver;
  let client: TestClient;
  beforeAll(async () => {
    receiver = await startReceiver();
    client = await registerClient(gh, { backchannel_logout_uri: `${receiver.url}/bcl`, backchannel_logout_session_required: true });
  });
  afterAll(async () => {
    await receiver.close();
  });

  async function signedIn() {
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, browser, client, user.email);
    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    const idToken = tokens.body.id_token as string;
    return { user, browser, idToken, sid: decodeJwt(idToken).sid as string };
  }

  async function verifiedLogoutToken(index: number) {
    const request = await eventually(20, async () => receiver.requests.filter((r) => r.path === '/bcl')[index]);
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const token = new URLSearchParams(request.body).get('logout_token')!;
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(`${gh.url}/jwks`)), {
      issuer: gh.config.issuer,
      audience: client.clientId,
      typ: 'logout+jwt',
      algorithms: ['RS256'],
      requiredClaims: ['iat', 'exp', 'jti', 'events'],
    });
    expect(protectedHeader.kid).toEqual(expect.any(String));
    // §2.4: the events member names the back-channel logout event; a logout token has no nonce.
    expect(payload.events).toEqual({ [BACKCHANNEL_LOGOUT_EVENT]: {} });
    expect(payload).not.toHaveProperty('nonce');
    return payload;
  }

  test('discovery advertises back-channel logout with sid', async () => {
    const body = (await (await fetch(`${gh.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(body.backchannel_logout_supported).toBe(true);
    expect(body.backchannel_logout_session_supported).toBe(true);
  });

  test('signing out (end_session) sends a logout token with sub and the sid of the ID token, without waiting for the receiver', async () => {
    const { user, browser, idToken, sid } = await signedIn();
    expect(sid).toEqual(expect.any(String));
    const before = receiver.requests.filter((r) => r.path === '/bcl').length;
    // The receiver holds the request open: sign-out must finish regardless.
    receiver.answer = (request) => (request.path === '/bcl' ? 'hang' : 204);
    const page = expectPage(await browser.get(`${gh.config.issuer}/session/end?id_token_hint=${idToken}&post_logout_redirect_uri=${encodeURIComponent(client.postLogoutRedirectUri)}`));
    const form = formWithAction(page.html, '/session/end/confirm');
    const landing = expectRedirect(await browser.post(form.action, { ...form.fields, logout: 'yes' }));
    expect(landing.status).toBe(303);

    const payload = await verifiedLogoutToken(before);
    expect(payload.sub).toBe(user.id);
    expect(payload.sid).toBe(sid);
    receiver.release(200);
    receiver.answer = () => 204;
    const row = await eventually(20, async () => {
      const found = await gh.db.prisma.webhookDelivery.findUnique({ where: { id: payload.jti! } });
      return found?.status === 'delivered' ? found : undefined;
    });
    expect(row.kind).toBe('backchannel-logout');
  });

  test('disabling a person or revoking the grant queues a logout token for each of their sessions at the client', async () => {
    const { user, sid } = await signedIn();
    const before = receiver.requests.filter((r) => r.path === '/bcl').length;
    expect(await queueBackchannelLogout(gh.db.prisma, { accountId: user.id })).toBe(1);
    const payload = await verifiedLogoutToken(before);
    expect(payload).toMatchObject({ sub: user.id, sid });
    // Another client is not told about a grant it does not hold; one client only when asked.
    expect(await queueBackchannelLogout(gh.db.prisma, { accountId: user.id, clientId: 'another-client' })).toBe(0);
  });

  test('ending one session (the account page\'s sign-out) sends a token for that session only', async () => {
    const user = await registerUser(gh);
    const sids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { callback, verifier } = await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email);
      sids.push(decodeJwt((await exchangeCode(gh, client, callback.code!, verifier)).body.id_token as string).sid as string);
    }
    const sessions = await gh.db.prisma.session.findMany({ where: { accountId: user.id } });
    expect(sessions).toHaveLength(2);
    const second = sessions.find((row) => JSON.stringify(row.payload).includes(sids[1]!))!;
    const before = receiver.requests.filter((r) => r.path === '/bcl').length;
    expect(await queueBackchannelLogout(gh.db.prisma, { accountId: user.id, sessionIds: [second.id] })).toBe(1);
    expect(await verifiedLogoutToken(before)).toMatchObject({ sub: user.id, sid: sids[1] });
  });

  test('a receiver that fails gets the same logout token id again until it answers', async () => {
    const { user } = await signedIn();
    let failures = 0;
    receiver.answer = (request) => (request.path === '/bcl' && failures++ < 2 ? 500 : 204);
    const before = receiver.requests.filter((r) => r.path === '/bcl').length;
    await queueBackchannelLogout(gh.db.prisma, { accountId: user.id });
    const first = await verifiedLogoutToken(before);
    const third = await verifiedLogoutToken(before + 2);
    expect(third.jti).toBe(first.jti);
    receiver.answer = () => 204;
  });
});
