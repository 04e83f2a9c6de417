// Attacks on sign-in through upstreams, each against real instances: a broker Gatehouse and two
// upstream Gatehouse instances (A and B, different issuers). State bound to the browser and single
// use; a nonce the upstream was not sent; mix-up (a code and `iss` of upstream B delivered into a
// flow started with A); never linking on an unverified email; a second upstream asserting the same
// email does not take over an account.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { auditRows, authorizationUrl, formWithAction, pkcePair, PASSWORD, randomToken, registerClient, registerUser, tokenRequest, type TestClient } from '../support/signin.js';
import { decryptSecret } from '../../src/keys/encryption.js';
import { sha256 } from '../../src/upstream/flows.js';
import { addOidcUpstream, consentIfAsked, KEK, expectAway, expectPageStop, signInUpstream, startUpstreamGatehouse, TwoSiteBrowser, upstreamLinks, upstreamPerson, type Stop } from './helpers.js';

describe.each(PROVIDERS)('attacks on upstream sign-in on %s', (provider) => {
  let broker: TestGatehouse;
  let a: TestGatehouse;
  let b: TestGatehouse;
  let app: TestClient;
  let clientAtB: TestClient;
  beforeAll(async () => {
    [broker, a, b] = await Promise.all([startGatehouse(provider), startUpstreamGatehouse(provider), startUpstreamGatehouse(provider)]);
    await addOidcUpstream(broker, a, 'corp-a', { display_name: 'Corp A', create_users: true, trust_email: true });
    clientAtB = (await addOidcUpstream(broker, b, 'corp-b', { display_name: 'Corp B', create_users: true, trust_email: false })).client;
    app = await registerClient(broker);
  });
  afterAll(async () => {
    await Promise.all([broker?.close(), a?.close(), b?.close()]);
  });

  const callback = () => `${broker.config.issuer}/interaction/upstream/callback`;
  const browserFor = (upstream: TestGatehouse) => new TwoSiteBrowser([new URL(broker.config.issuer).origin, new URL(upstream.config.issuer).origin]);

  /** An app's authorization request at the broker, then "Continue with <label>": where that leads. */
  async function startAt(browser: TwoSiteBrowser, label: string): Promise<Stop> {
    const { challenge } = pkcePair();
    const login = expectPageStop(await browser.get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge })));
    const href = upstreamLinks(login.html).get(label);
    if (!href) throw new Error(`no "Continue with ${label}" on the login page`);
    return browser.get(new URL(href, broker.config.issuer));
  }

  /** Signs in at the upstream and stops at the callback, not delivering it. */
  async function callbackUrlFor(browser: TwoSiteBrowser, upstream: TestGatehouse, label: string, email: string): Promise<URL> {
    browser.stopAt = (url) => url.toString().startsWith(callback());
    const away = expectAway(await signInUpstream(browser, upstream, await startAt(browser, label), email));
    browser.stopAt = undefined;
    return away.location;
  }

  /** upstream.login.failure rows whose check matches (audit rows are written as requests finish: waits briefly). */
  const failureChecks = async (check: RegExp) => {
    let matching: Awaited<ReturnType<typeof auditRows>> = [];
    for (let attempt = 0; attempt < 25 && matching.length === 0; attempt++) {
      if (attempt) await new Promise((r) => setTimeout(r, 40));
      const rows = await broker.db.prisma.auditEvent.findMany({ where: { type: 'upstream.login.failure' }, orderBy: { at: 'asc' } });
      matching = rows.filter((r) => check.test(String((r.details as { check?: unknown }).check)));
      if (attempt === 24 && matching.length === 0) console.log(rows.map((r) => r.details));
    }
    return matching;
  };

  test('a callback whose state is missing, unknown, from another browser or already used is refused; the right browser still succeeds once', async () => {
    const browser = browserFor(a);
    const missing = expectPageStop(await browser.get(`${callback()}?code=abc`));
    expect(missing.status).toBe(400);
    expect(missing.html).toContain('upstream_bad_state');
    const unknown = expectPageStop(await browser.get(`${callback()}?code=abc&state=${randomToken()}`));
    expect(unknown.status).toBe(400);
    expect(unknown.html).toContain('upstream_bad_state');
    expect(await failureChecks(/^unknown_state$/)).not.toHaveLength(0);

    const person = await upstreamPerson(a);
    const victim = browserFor(a);
    const location = await callbackUrlFor(victim, a, 'Corp A', person.email);
    // Another browser (an attacker who got hold of the URL) cannot use it, and does not burn it.
    const other = expectPageStop(await browserFor(a).get(location));
    expect(other.status).toBe(400);
    expect(other.html).toContain('upstream_bad_state');
    expect(await failureChecks(/^other_browser$/)).not.toHaveLength(0);

    const cookie = victim.jar('127.0.0.1').header(location);
    expect(cookie).toMatch(/gh_upstream_/);
    const done = expectAway(await consentIfAsked(victim, await victim.get(location)));
    expect(done.location.searchParams.get('code')).toBeTruthy();

    // The same answer again, even with the browser's cookie: single use.
    const replay = await fetch(location, { headers: { cookie, accept: 'text/html' }, redirect: 'manual' });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('upstream_bad_state');
    // Once the interaction took the outcome the flow is gone: the replay finds no such state.
    expect(await failureChecks(/^(already_used|unknown_state)$/)).toHaveLength(2);
  });

  test('fifteen copies of one answer at once, from the browser that started it: exactly one is used', async () => {
    const person = await upstreamPerson(a);
    const browser = browserFor(a);
    const location = await callbackUrlFor(browser, a, 'Corp A', person.email);
    const cookie = browser.jar('127.0.0.1').header(location);
    const answers = await Promise.all(
      Array.from({ length: 15 }, () => fetch(location, { headers: { cookie, accept: 'text/html' }, redirect: 'manual' }).then(async (res) => ({ status: res.status, location: res.headers.get('location'), body: await res.text() }))),
    );
    const used = answers.filter((r) => r.status === 303);
    expect(used).toHaveLength(1);
    expect(used[0]!.location).toMatch(/\/upstream-finish$/);
    expect(answers.filter((r) => r.status === 400 && r.body.includes('upstream_bad_state'))).toHaveLength(14);
    expect(answers.some((r) => r.status >= 500)).toBe(false);
    expect(await broker.db.prisma.user.count({ where: { email: person.email } })).toBe(1);
  });

  test('an ID token whose nonce is not the one this sign-in sent (a replayed nonce) is refused', async () => {
    // A nonce from an earlier, completed sign-in.
    const earlier = browserFor(a);
    const first = await upstreamPerson(a);
    expectAway(await consentIfAsked(earlier, await signInUpstream(earlier, a, await startAt(earlier, 'Corp A'), first.email)));
    const oldNonce = earlier.visited.find((u) => u.origin === new URL(a.config.issuer).origin && u.pathname === '/auth')!.searchParams.get('nonce')!;

    // A browser that swaps the nonce on its way to the upstream; state and PKCE are left intact.
    const person = await upstreamPerson(a);
    const tampering = browserFor(a);
    tampering.rewrite = (url) => {
      if (url.origin !== new URL(a.config.issuer).origin || url.pathname !== '/auth' || !url.searchParams.has('nonce')) return url;
      const swapped = new URL(url);
      swapped.searchParams.set('nonce', oldNonce);
      return swapped;
    };
    const page = expectPageStop(await signInUpstream(tampering, a, await startAt(tampering, 'Corp A'), person.email));
    expect(page.status).toBe(502);
    expect(page.html).toContain('upstream_invalid_response');
    expect(await failureChecks(/^OAUTH_JWT_CLAIM_COMPARISON_FAILED:nonce$/)).not.toHaveLength(0);
    expect(await broker.db.prisma.user.count({ where: { email: person.email } })).toBe(0);
  });

  test('mix-up: a code and iss from upstream B delivered into a sign-in started with A are refused before any code is redeemed', async () => {
    // The attacker's own sign-in at B: the code B issued for the broker's redirect_uri, not delivered.
    const attacker = await upstreamPerson(b);
    const fromB = await callbackUrlFor(browserFor(b), b, 'Corp B', attacker.email);
    expect(fromB.searchParams.get('iss')).toBe(b.config.issuer);
    const codeB = fromB.searchParams.get('code')!;

    for (const withIss of [true, false]) {
      // The victim starts with A; the browser is sent back with B's code under A's state.
      const victim = browserFor(a);
      victim.stopAt = (url) => url.origin === new URL(a.config.issuer).origin;
      const toA = expectAway(await startAt(victim, 'Corp A'));
      victim.stopAt = undefined;
      const forged = new URL(callback());
      forged.searchParams.set('code', codeB);
      forged.searchParams.set('state', toA.location.searchParams.get('state')!);
      if (withIss) forged.searchParams.set('iss', b.config.issuer);
      const page = expectPageStop(await victim.get(forged));
      expect(page.status).toBe(502);
      expect(page.html).toContain('upstream_invalid_response');
    }
    // RFC 9207 §2.4: the iss of the response is checked (and required, since A's metadata says it sends one).
    expect(await failureChecks(/^OAUTH_INVALID_RESPONSE:iss$/)).toHaveLength(2);

    // With iss forged to A's, the code goes to A, the upstream the flow was started with (never to B), and A refuses it.
    const victim = browserFor(a);
    victim.stopAt = (url) => url.origin === new URL(a.config.issuer).origin;
    const toA = expectAway(await startAt(victim, 'Corp A'));
    victim.stopAt = undefined;
    const forged = new URL(callback());
    forged.search = new URLSearchParams({ code: codeB, state: toA.location.searchParams.get('state')!, iss: a.config.issuer }).toString();
    const refused = expectPageStop(await victim.get(forged));
    expect(refused.status).toBe(502);
    expect(await failureChecks(/^invalid_grant$/)).toHaveLength(1);

    // B's code was never sent anywhere: it still redeems at B with the verifier of the flow it belongs to.
    const flowB = await broker.db.prisma.upstreamAuthorization.findUniqueOrThrow({ where: { id: sha256(fromB.searchParams.get('state')!) } });
    const redeemed = await tokenRequest(b, clientAtB, { grant_type: 'authorization_code', code: codeB, redirect_uri: callback(), code_verifier: decryptSecret(KEK, flowB.codeVerifier, `upstream-pkce-verifier:${flowB.id}`) });
    expect(redeemed.status).toBe(200);
  });

  test('an email the upstream did not verify never links to an existing account; the person must prove the account', async () => {
    const existing = await registerUser(broker, { email: `owner-${randomToken().toLowerCase()}@example.com` });
    const claimant = await upstreamPerson(a, { email: existing.email, verified: false });
    const browser = browserFor(a);
    const page = expectPageStop(await signInUpstream(browser, a, await startAt(browser, 'Corp A'), claimant.email));
    expect(page.html).toContain('Link your account');
    expect(await broker.db.prisma.linkedIdentity.count({ where: { userId: existing.id } })).toBe(0);

    const form = formWithAction(page.html, '/upstream-link');
    const wrong = expectPageStop(await browser.post(form.action, { ...form.fields, password: 'not the password at all' }, page.url));
    expect(wrong.status).toBe(400);
    expect(await broker.db.prisma.linkedIdentity.count({ where: { userId: existing.id } })).toBe(0);
    expect(await failureChecks(/^wrong_password$/)).not.toHaveLength(0);

    const right = formWithAction(wrong.html, '/upstream-link');
    const done = expectAway(await consentIfAsked(browser, await browser.post(right.action, { ...right.fields, password: PASSWORD }, wrong.url)));
    expect(done.location.searchParams.get('code')).toBeTruthy();
    expect(await broker.db.prisma.linkedIdentity.findMany({ where: { userId: existing.id } })).toEqual([expect.objectContaining({ upstreamId: 'corp-a', subject: claimant.id })]);
    expect(await auditRows(broker, 'identity.linked', { subject: existing.id })).toEqual([expect.objectContaining({ details: expect.objectContaining({ via: 'password' }) })]);

    // The same, verified by the trusted upstream: linked at once (the check above is what refused).
    const owner = await registerUser(broker, { email: `owner-${randomToken().toLowerCase()}@example.com` });
    const verified = await upstreamPerson(a, { email: owner.email, verified: true });
    const second = browserFor(a);
    expectAway(await consentIfAsked(second, await signInUpstream(second, a, await startAt(second, 'Corp A'), verified.email)));
    expect(await broker.db.prisma.linkedIdentity.count({ where: { userId: owner.id, upstreamId: 'corp-a' } })).toBe(1);
  });

  test('a second upstream asserting the same (verified) email does not take over an account created through the first', async () => {
    const email = `shared-${randomToken().toLowerCase()}@example.com`;
    const atA = await upstreamPerson(a, { email });
    const first = browserFor(a);
    expectAway(await consentIfAsked(first, await signInUpstream(first, a, await startAt(first, 'Corp A'), atA.email)));
    const user = await broker.db.prisma.user.findUniqueOrThrow({ where: { email } });

    const atB = await upstreamPerson(b, { email, verified: true });
    const intruder = browserFor(b);
    const page = expectPageStop(await signInUpstream(intruder, b, await startAt(intruder, 'Corp B'), atB.email));
    expect(page.status).toBe(403);
    expect(page.html).toContain('upstream_account_exists');
    expect(await broker.db.prisma.linkedIdentity.findMany({ where: { userId: user.id } })).toEqual([expect.objectContaining({ upstreamId: 'corp-a' })]);
    expect(await broker.db.prisma.linkedIdentity.count({ where: { upstreamId: 'corp-b', subject: atB.id } })).toBe(0);
    expect(await broker.db.prisma.user.count({ where: { email } })).toBe(1);
    expect(await failureChecks(/^account$/)).not.toHaveLength(0);
  });
});
