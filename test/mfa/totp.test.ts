// TOTP as a second factor over real HTTP: enrolment while signing in to a client that requires
// MFA (a QR code rendered server-side, a key to type, a first code to confirm), recovery codes
// shown once, amr/acr in the ID token as openid-client reads it; then sign-in with codes the test
// computes, a replayed code refused, and wrong codes counting towards the account's lockout and
// the per-address limit, however often the password is entered again.
import { PROVIDERS } from '../support/databases.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { MFA_ACR, codeAt, currentStep, enrolTotp, idTokenClaims, recoveryCodesOn, relyingParty, wrongCode } from '../support/mfa.js';
import {
  TestBrowser,
  auditRows,
  authorizationUrl,
  callbackOf,
  consent,
  expectPage,
  formWithAction,
  pkcePair,
  randomToken,
  registerClient,
  registerUser,
  signIn,
  type Landing,
  type TestClient,
} from '../support/signin.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

type Started = { browser: TestBrowser; landing: Landing; verifier: string; state: string; nonce: string };

async function startAuthorization(gh: TestGatehouse, client: TestClient, browser = new TestBrowser(gh), extra: Record<string, string> = {}): Promise<Started> {
  const { verifier, challenge } = pkcePair();
  const state = randomToken();
  const nonce = randomToken();
  const landing = await browser.get(authorizationUrl(gh, { client, state, nonce, codeChallenge: challenge, extra }));
  return { browser, landing, verifier, state, nonce };
}

async function requireMfaClient(gh: TestGatehouse): Promise<TestClient> {
  const client = await registerClient(gh);
  await gh.db.prisma.client.update({ where: { id: client.clientId }, data: { requireMfa: true } });
  return client;
}

/** Signs a new person in to a client that requires MFA, enrolling an app; returns the secret and the step its first code used. */
async function enrolledPerson(gh: TestGatehouse, client: TestClient) {
  const user = await registerUser(gh);
  const started = await startAuthorization(gh, client);
  const enrolPage = await signIn(started.browser, started.landing, user.email);
  const { secret, next, step } = await enrolTotp(started.browser, enrolPage);
  let landing = await started.browser.submit(formWithAction(expectPage(next).html, '/mfa/continue'));
  if (landing.kind === 'page' && landing.html.includes('/consent"')) landing = await consent(started.browser, landing);
  callbackOf(landing, client);
  return { user, secret, step };
}

describe.each(PROVIDERS)('TOTP second factor on %s', (provider) => {
  const gh = useGatehouse(provider, { LOGIN_LOCKOUT_THRESHOLD: '3', LOGIN_IP_LIMIT: '1000', LOGIN_IP_ACCOUNT_LIMIT: '1000' });
  const client = useBeforeAll(() => requireMfaClient(gh));

  test('a client that requires MFA leads a person without a factor through enrolment; the ID token says pwd+otp at the MFA level', async () => {
    const user = await registerUser(gh);
    const started = await startAuthorization(gh, client);
    const enrolPage = expectPage(await signIn(started.browser, started.landing, user.email));
    expect(enrolPage.url.pathname).toMatch(/^\/interaction\/[\w-]+\/mfa$/);
    expect(enrolPage.html).toContain('Set up a second factor');
    // The QR code is inline SVG made by the server; the key is there to type; no inline script.
    expect(enrolPage.html).toMatch(/<figure class="qr"[^>]*><svg[^>]*>[\s\S]*<\/svg>/);
    expect(enrolPage.html).not.toMatch(/<script>|<script\b(?![^>]*\bsrc=)|\bon[a-z]+="/i);
    expect(enrolPage.headers.get('content-security-policy')).toMatch(/script-src 'self'/);

    // A wrong first code does not turn the app on; the same key is shown again.
    const page = expectPage(enrolPage);
    const secretBefore = /id="totp-secret">([^<]+)</.exec(page.html)![1];
    const wrong = expectPage(await started.browser.submit(formWithAction(page.html, '/mfa/enrol-totp'), { code: '000000' === codeAt(secretBefore!.replace(/ /g, ''), currentStep()) ? '111111' : '000000' }));
    expect(wrong.status).toBe(400);
    expect(wrong.html).toContain('That code is not right');
    expect(/id="totp-secret">([^<]+)</.exec(wrong.html)![1]).toBe(secretBefore);
    expect(await gh.db.prisma.mfaTotp.count({ where: { userId: user.id, confirmedAt: { not: null } } })).toBe(0);

    const { secret, next } = await enrolTotp(started.browser, wrong);
    const codesPage = expectPage(next);
    const codes = recoveryCodesOn(codesPage.html);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    // Stored sealed and hashed: neither the key nor a code is in the database.
    const row = await gh.db.prisma.mfaTotp.findFirstOrThrow({ where: { userId: user.id, confirmedAt: { not: null } } });
    expect(row.sealedSecret).not.toContain(secret);
    const hashes = await gh.db.prisma.mfaRecoveryCode.findMany({ where: { userId: user.id } });
    expect(hashes).toHaveLength(10);
    for (const code of codes) expect(JSON.stringify(hashes)).not.toContain(code.replace('-', ''));

    let landing = await started.browser.submit(formWithAction(codesPage.html, '/mfa/continue'));
    landing = await consent(started.browser, landing);
    const callback = callbackOf(landing, client);
    const claims = await idTokenClaims(await relyingParty(gh, client), callback.url, started);
    expect(claims.sub).toBe(user.id);
    expect(claims.acr).toBe(MFA_ACR);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    const enrolled = await auditRows(gh, 'mfa.enrolled', { subject: user.id });
    expect(enrolled[0]?.details).toMatchObject({ factor: 'totp' });
    // Neither the key nor a recovery code reaches the logs or the audit trail.
    const written = `${gh.logs.join('')}${JSON.stringify(await gh.db.prisma.auditEvent.findMany())}`;
    for (const credential of [secret, ...codes, ...codes.map((c) => c.replace('-', ''))]) expect(written).not.toContain(credential);
  });

  test('signing in with a code the test computes; the same code again is refused', async () => {
    const { user, secret, step } = await enrolledPerson(gh, client);
    const next = codeAt(secret, step + 1);

    const first = await startAuthorization(gh, client);
    const challenge = expectPage(await signIn(first.browser, first.landing, user.email));
    expect(challenge.html).toContain('Confirm it is you');
    expect(challenge.html).toMatch(/<label for="code">/);
    const callback = callbackOf(await first.browser.submit(formWithAction(challenge.html, '/mfa/totp'), { code: next }), client);
    const claims = await idTokenClaims(await relyingParty(gh, client), callback.url, first);
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);

    // The code just used, in another browser with the right password: refused, and audited.
    const second = await startAuthorization(gh, client);
    const again = expectPage(await signIn(second.browser, second.landing, user.email));
    const replayed = expectPage(await second.browser.submit(formWithAction(again.html, '/mfa/totp'), { code: next }));
    expect(replayed.status).toBe(400);
    expect(replayed.html).toContain('That code is not right');
    // The enrolment's own code (an earlier step) is refused too.
    const earlier = expectPage(await second.browser.submit(formWithAction(replayed.html, '/mfa/totp'), { code: codeAt(secret, step) }));
    expect(earlier.status).toBe(400);
    const failures = await auditRows(gh, 'mfa.failure', { subject: user.id }, 2);
    expect(failures.map((f) => (f.details as Record<string, unknown>).reason)).toEqual(['wrong_code', 'wrong_code']);
  });

  test('wrong codes lock the account, and entering the right password again does not forgive them', async () => {
    const { user, secret } = await enrolledPerson(gh, client);
    const bad = wrongCode(secret);

    const first = await startAuthorization(gh, client);
    let page = expectPage(await signIn(first.browser, first.landing, user.email));
    for (let i = 0; i < 2; i++) {
      page = expectPage(await first.browser.submit(formWithAction(page.html, '/mfa/totp'), { code: bad }));
      expect(page.html).toContain('That code is not right');
    }
    // A new sign-in with the right password: the two wrong codes still count.
    const second = await startAuthorization(gh, client);
    page = expectPage(await signIn(second.browser, second.landing, user.email));
    page = expectPage(await second.browser.submit(formWithAction(page.html, '/mfa/totp'), { code: bad }));
    expect(page.html).toContain('this account is locked');
    const locked = await auditRows(gh, 'account.locked', { subject: user.id });
    expect(locked).toHaveLength(1);
    expect((await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).lockedUntil).not.toBeNull();

    // Locked: a right code is refused unchecked.
    page = expectPage(await second.browser.submit(formWithAction(page.html, '/mfa/totp'), { code: codeAt(secret, currentStep()) }));
    expect(page.html).toContain('this account is locked');
    const refused = await auditRows(gh, 'mfa.failure', { subject: user.id }, 4);
    expect((refused.at(-1)?.details as Record<string, unknown>).reason).toBe('account_locked');

    const metrics = await (await fetch(`http://127.0.0.1:${gh.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/gatehouse_mfa_failures_total\{factor="totp",reason="wrong_code"\} [1-9]/);
  });
});

describe.each(PROVIDERS)('wrong TOTP codes and the per-address limit on %s', (provider) => {
  const gh = useGatehouse(provider, { LOGIN_IP_LIMIT: '3', LOGIN_LOCKOUT_THRESHOLD: '50', LOGIN_IP_ACCOUNT_LIMIT: '1000' });
  const client = useBeforeAll(() => requireMfaClient(gh));

  test('wrong codes spend the address budget of failed sign-ins; then 429', async () => {
    const { user, secret } = await enrolledPerson(gh, client);
    const started = await startAuthorization(gh, client);
    let page = expectPage(await signIn(started.browser, started.landing, user.email));
    const bad = wrongCode(secret);
    for (let i = 0; i < 3; i++) page = expectPage(await started.browser.submit(formWithAction(page.html, '/mfa/totp'), { code: bad }));
    expect(page.status).toBe(400);
    page = expectPage(await started.browser.submit(formWithAction(page.html, '/mfa/totp'), { code: bad }));
    expect(page.status).toBe(429);
    expect(page.html).toContain('Too many failed attempts');
  });
});
