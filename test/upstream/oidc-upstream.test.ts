// Signing in to Gatehouse through an OpenID Connect upstream that is a second real Gatehouse
// instance, found by discovery: the authorization request Gatehouse sends (PKCE S256, state,
// nonce), the upstream's login page, the way back, the code the app gets; just-in-time creation,
// the session's amr, the identity recorded by (upstream, subject); the `idp` hint; a person
// without a password cannot use the password form.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { PROVIDERS } from '../support/databases.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { startGatehouse } from '../support/gatehouse.js';
import { auditRows, authorizationUrl, exchangeCode, pkcePair, PASSWORD, randomToken, registerClient, TestBrowser, expectPage, signIn, verifyIdToken, type TestClient } from '../support/signin.js';
import type { ClientInput } from '../../src/clients/metadata.js';
import { createUpstream } from '../../src/upstream/registry.js';
import { addOidcUpstream, consentIfAsked, KEK, expectAway, expectPageStop, signInUpstream, startUpstreamGatehouse, TwoSiteBrowser, upstreamLinks, upstreamPerson } from './helpers.js';

describe.each(PROVIDERS)('an OpenID Connect upstream (another Gatehouse) on %s', (provider) => {
  let broker: TestGatehouse;
  let upstream: TestGatehouse;
  let app: TestClient;
  let upstreamSecret: string;
  beforeAll(async () => {
    [broker, upstream] = await Promise.all([startGatehouse(provider), startUpstreamGatehouse(provider)]);
    upstreamSecret = (await addOidcUpstream(broker, upstream, 'corp', { display_name: 'Corp SSO', create_users: true, trust_email: true })).client.clientSecret!;
    app = await registerClient(broker);
  });
  afterAll(async () => {
    await Promise.all([broker?.close(), upstream?.close()]);
  });

  const browserFor = () => new TwoSiteBrowser([new URL(broker.config.issuer).origin, new URL(upstream.config.issuer).origin]);

  test('a new person signs in at the upstream, is created just in time, and the app gets a code', async () => {
    const person = await upstreamPerson(upstream, { name: 'Grace Hopper' });
    const browser = browserFor();
    const { verifier, challenge } = pkcePair();
    const state = randomToken();
    const nonce = randomToken();
    const login = expectPageStop(await browser.get(authorizationUrl(broker, { client: app, state, nonce, codeChallenge: challenge })));
    const href = upstreamLinks(login.html).get('Corp SSO');
    expect(href).toBeDefined();

    const atUpstream = await browser.get(new URL(href!, broker.config.issuer));
    // What Gatehouse asked the upstream: discovered endpoint, PKCE S256, state, nonce, openid scope.
    const request = browser.visited.find((u) => u.origin === new URL(upstream.config.issuer).origin && u.pathname === '/auth')!;
    expect(request.searchParams.get('code_challenge_method')).toBe('S256');
    expect(request.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(request.searchParams.get('state')?.length).toBeGreaterThanOrEqual(32);
    expect(request.searchParams.get('nonce')?.length).toBeGreaterThanOrEqual(32);
    expect(request.searchParams.get('scope')).toBe('openid email profile');
    expect(request.searchParams.get('redirect_uri')).toBe(`${broker.config.issuer}/interaction/upstream/callback`);

    const back = await consentIfAsked(browser, await signInUpstream(browser, upstream, atUpstream, person.email));
    const away = expectAway(back);
    expect(`${away.location.origin}${away.location.pathname}`).toBe(app.redirectUri);
    expect(away.location.searchParams.get('state')).toBe(state);
    expect(away.location.searchParams.get('iss')).toBe(broker.config.issuer);
    const code = away.location.searchParams.get('code')!;

    const tokens = await exchangeCode(broker, app, code, verifier);
    expect(tokens.status).toBe(200);
    const claims = await verifyIdToken(broker, tokens.body.id_token as string, app.clientId);
    expect(claims.nonce).toBe(nonce);

    const user = await broker.db.prisma.user.findUniqueOrThrow({ where: { email: person.email } });
    expect(claims.sub).toBe(user.id);
    expect(user.passwordHash).toBeNull();
    expect(user.name).toBe('Grace Hopper');
    // A trusted upstream verified the email, so the account's email counts as verified.
    expect(user.emailVerified).toBe(true);
    const identities = await broker.db.prisma.linkedIdentity.findMany({ where: { userId: user.id } });
    expect(identities).toEqual([expect.objectContaining({ upstreamId: 'corp', subject: person.id })]);

    // The session says how the person signed in (RFC 8176 "fed").
    const sessions = await broker.db.prisma.session.findMany({ where: { accountId: user.id } });
    expect(sessions.map((s) => (s.payload as { amr?: string[] }).amr)).toEqual([['fed']]);

    expect(await auditRows(broker, 'upstream.login.success', { subject: user.id })).toEqual([
      expect.objectContaining({ outcome: 'success', clientId: app.clientId, details: expect.objectContaining({ upstream: 'corp' }) }),
    ]);
    expect(await auditRows(broker, 'user.created', { subject: user.id })).toEqual([expect.objectContaining({ details: expect.objectContaining({ just_in_time: true, upstream: 'corp' }) })]);
    expect(await auditRows(broker, 'identity.linked', { subject: user.id })).toHaveLength(1);

    // Neither the upstream's code, the state, nor Gatehouse's secret at the upstream reach a log line or an audit row.
    const answer = browser.visited.find((u) => u.pathname === '/interaction/upstream/callback')!;
    const written = [broker.logs.join('\n'), JSON.stringify(await broker.db.prisma.auditEvent.findMany())].join('\n');
    for (const credential of [answer.searchParams.get('code')!, answer.searchParams.get('state')!, upstreamSecret]) expect(written).not.toContain(credential);

    // The same identity again, in a new browser: the same account, no second one.
    const again = browserFor();
    const second = expectPageStop(await again.get(authorizationUrl(broker, { client: app, state, codeChallenge: challenge })));
    const returned = expectAway(await consentIfAsked(again, await signInUpstream(again, upstream, await again.get(new URL(upstreamLinks(second.html).get('Corp SSO')!, broker.config.issuer)), person.email)));
    expect(returned.location.searchParams.get('code')).toBeTruthy();
    expect(await broker.db.prisma.user.count({ where: { email: person.email } })).toBe(1);
    expect(await broker.db.prisma.linkedIdentity.count({ where: { userId: user.id } })).toBe(1);
  });

  test("private_key_jwt: Gatehouse authenticates to the upstream with an assertion signed by its own key, verified against its JWKS", async () => {
    const brokerJwks = (await (await fetch(`${broker.config.issuer}/jwks`)).json()) as NonNullable<ClientInput['jwks']>;
    const client = await registerClient(upstream, {
      name: 'Gatehouse broker (key)',
      redirect_uris: [`${broker.config.issuer}/interaction/upstream/callback`],
      first_party: true,
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: brokerJwks.keys },
    });
    expect(client.clientSecret).toBeUndefined();
    await createUpstream(broker.db.prisma, KEK, { id: 'corp-key', kind: 'oidc', display_name: 'Corp Key', issuer: upstream.config.issuer, client_id: client.clientId, client_auth_method: 'private_key_jwt', create_users: true });
    const person = await upstreamPerson(upstream);
    const browser = browserFor();
    const { challenge } = pkcePair();
    const login = expectPageStop(await browser.get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge })));
    const away = expectAway(await consentIfAsked(browser, await signInUpstream(browser, upstream, await browser.get(new URL(upstreamLinks(login.html).get('Corp Key')!, broker.config.issuer)), person.email)));
    expect(away.location.searchParams.get('code')).toBeTruthy();
    expect(await broker.db.prisma.linkedIdentity.count({ where: { upstreamId: 'corp-key', subject: person.id } })).toBe(1);
    // The upstream saw a client assertion, not a secret: its token request authenticated this client.
    const issued = await auditRows(upstream, 'token.issued', { clientId: client.clientId });
    expect(issued).not.toHaveLength(0);
  });

  test('an authorization request naming the upstream (idp) goes straight there; an unknown one shows the login page', async () => {
    const browser = browserFor();
    const { challenge } = pkcePair();
    const straight = expectPageStop(await browser.get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge, extra: { idp: 'corp' } })));
    expect(straight.url.origin).toBe(new URL(upstream.config.issuer).origin);
    expect(straight.html).toContain('/login"');

    const unknown = expectPageStop(await browserFor().get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge, extra: { idp: 'nobody' } })));
    expect(unknown.url.origin).toBe(new URL(broker.config.issuer).origin);
    expect(upstreamLinks(unknown.html).has('Corp SSO')).toBe(true);
  });

  test('a person created from an upstream has no password: the password form refuses them like any wrong password', async () => {
    const person = await upstreamPerson(upstream);
    const browser = browserFor();
    const { challenge } = pkcePair();
    const login = expectPageStop(await browser.get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge })));
    expectAway(await consentIfAsked(browser, await signInUpstream(browser, upstream, await browser.get(new URL(upstreamLinks(login.html).get('Corp SSO')!, broker.config.issuer)), person.email)));
    const user = await broker.db.prisma.user.findUniqueOrThrow({ where: { email: person.email } });

    const plain = new TestBrowser(broker);
    const page = expectPage(await signIn(plain, await plain.get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge })), person.email, ''));
    expect(page.status).toBe(400);
    for (const password of [PASSWORD, 'any password at all']) {
      const attempt = expectPage(await signIn(plain, await plain.get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge })), person.email, password));
      expect(attempt.status).toBe(400);
      expect(attempt.html).toContain('Invalid email or password.');
    }
    const failures = await auditRows(broker, 'login.failure', { subject: user.id }, 2);
    expect(failures.map((f) => (f.details as { reason: string }).reason)).toEqual(['no_password', 'no_password']);
    // Nothing counted towards a lock: there is no password to guess.
    expect((await broker.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).failedLoginCount).toBe(0);
  });
});
