// Step-up inside a live session and max_age, over real HTTP with ID tokens read by openid-client:
// a person signed in with a password alone adds an authenticator app on their security page;
// an authorization request with acr_values naming the MFA level then asks only for the second
// factor (no password) and the ID token reaches that level; max_age=0 asks for a fresh sign-in,
// password and second factor, here with a recovery code that says how many are left.
import { PROVIDERS } from '../support/databases.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { MFA_ACR, codeAt, currentStep, idTokenClaims, recoveryCodesOn, relyingParty } from '../support/mfa.js';
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
  type TestClient,
} from '../support/signin.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

function authorize(gh: TestGatehouse, browser: TestBrowser, client: TestClient, extra: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const state = randomToken();
  const nonce = randomToken();
  return { verifier, state, nonce, landing: browser.get(authorizationUrl(gh, { client, state, nonce, codeChallenge: challenge, extra })) };
}

describe.each(PROVIDERS)('step-up with acr_values and max_age on %s', (provider) => {
  const gh = useGatehouse(provider, { LOGIN_IP_LIMIT: '1000' });
  const client = useBeforeAll(() => registerClient(gh));

  test('discovery lists the two ACR values', async () => {
    const discovery = (await (await fetch(`${gh.config.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.acr_values_supported).toEqual(['urn:gatehouse:acr:single-factor', MFA_ACR]);
    expect(discovery.claims_supported).toEqual(expect.arrayContaining(['acr', 'amr']));
  });

  test('password, then acr_values=MFA in the same session asks for the second factor only; max_age=0 asks for everything again', async () => {
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const rp = await relyingParty(gh, client);

    // 1. A password alone: the single-factor level.
    let flow = authorize(gh, browser, client);
    let landing = await consent(browser, await signIn(browser, await flow.landing, user.email));
    const first = await idTokenClaims(rp, callbackOf(landing, client).url, flow);
    expect(first.amr).toEqual(['pwd']);
    expect(first.acr).toBe('urn:gatehouse:acr:single-factor');

    // 2. The security page of that session: add an authenticator app (its first code confirms it).
    const security = expectPage(await browser.get(`${gh.config.issuer}/account/security`));
    expect(security.status).toBe(200);
    const adding = expectPage(await browser.submit(formWithAction(security.html, '/account/security/totp')));
    const secret = /id="totp-secret">([^<]+)</.exec(adding.html)![1]!.replace(/ /g, '');
    const step = currentStep();
    const codesPage = expectPage(await browser.submit(formWithAction(adding.html, '/account/security/totp/confirm'), { code: codeAt(secret, step) }));
    const codes = recoveryCodesOn(codesPage.html);
    expect(codes).toHaveLength(10);

    // A session without the second factor cannot change factors once the person has one.
    const refusedPage = expectPage(await browser.get(`${gh.config.issuer}/account/security`));
    expect(refusedPage.status).toBe(403);
    expect(refusedPage.html).toContain('Confirm with your second factor first');

    // Another door: prompt=none cannot get a code from the single-factor session any more (the
    // person has a factor now), with or without acr_values.
    for (const extra of [{ prompt: 'none' }, { prompt: 'none', acr_values: MFA_ACR }] as Record<string, string>[]) {
      flow = authorize(gh, browser, client, extra);
      const silent = callbackOf(await flow.landing, client);
      expect([silent.code, silent.error]).toEqual([null, 'login_required']);
    }

    // 3. acr_values naming the MFA level: the second factor only, inside the live session.
    flow = authorize(gh, browser, client, { acr_values: MFA_ACR });
    const challenge = expectPage(await flow.landing);
    expect(challenge.html).toContain('asks for a second factor');
    expect(challenge.html).not.toContain('name="password"');
    landing = await browser.submit(formWithAction(challenge.html, '/mfa/totp'), { code: codeAt(secret, step + 1) });
    const stepped = await idTokenClaims(rp, callbackOf(landing, client).url, flow);
    expect(stepped.sub).toBe(user.id);
    expect(stepped.acr).toBe(MFA_ACR);
    expect(stepped.amr).toEqual(['pwd', 'otp', 'mfa']);
    const stepUps = await auditRows(gh, 'mfa.success', { subject: user.id });
    expect(stepUps[0]?.details).toMatchObject({ factor: 'totp', step_up: true });

    expect(expectPage(await browser.get(`${gh.config.issuer}/account/security`)).status).toBe(200);

    // 4. The session is at the MFA level now: the same request needs no interaction.
    flow = authorize(gh, browser, client, { acr_values: MFA_ACR });
    expect((await idTokenClaims(rp, callbackOf(await flow.landing, client).url, flow)).acr).toBe(MFA_ACR);

    // 5. max_age=0: a fresh sign-in, password first, then the second factor (a recovery code).
    flow = authorize(gh, browser, client, { max_age: '0' });
    const login = expectPage(await flow.landing);
    expect(login.html).toContain('name="password"');
    const again = expectPage(await signIn(browser, login, user.email));
    const used = expectPage(await browser.submit(formWithAction(again.html, '/mfa/recovery'), { code: codes[0]! }));
    expect(used.html).toMatch(/<strong id="recovery-remaining">9<\/strong> recovery codes left/);
    landing = await browser.submit(formWithAction(used.html, '/mfa/continue'));
    const fresh = await idTokenClaims(rp, callbackOf(landing, client).url, { ...flow, maxAge: 0 });
    expect(fresh.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(fresh.acr).toBe(MFA_ACR);
    // max_age makes auth_time required (OpenID Connect Core §3.1.2.1); the sign-in just happened.
    expect(fresh.auth_time).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 60);
    const recovery = await auditRows(gh, 'mfa.recovery_code_used', { subject: user.id });
    expect(recovery[0]?.details).toMatchObject({ remaining: 9 });

    // 6. The recovery code works once.
    flow = authorize(gh, browser, client, { max_age: '0' });
    const third = expectPage(await signIn(browser, expectPage(await flow.landing), user.email));
    const refused = expectPage(await browser.submit(formWithAction(third.html, '/mfa/recovery'), { code: codes[0]! }));
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('That recovery code is not right, or was used already.');

    // 7. The security page (the session is at the MFA level): remove the app, audited.
    const settings = expectPage(await browser.get(`${gh.config.issuer}/account/security`));
    expect(settings.html).toContain('Remove the authenticator app');
    const removed = expectPage(await browser.submit(formWithAction(settings.html, '/account/security/totp/remove')));
    expect(removed.url.pathname).toBe('/account/security');
    expect(removed.html).toContain('Add an authenticator app');
    expect(await gh.db.prisma.mfaTotp.count({ where: { userId: user.id } })).toBe(0);
    expect((await auditRows(gh, 'mfa.removed', { subject: user.id }))[0]?.details).toMatchObject({ factor: 'totp' });
    // A form without its CSRF token changes nothing.
    const forged = expectPage(await browser.post(`${gh.config.issuer}/account/security/recovery-codes`, {}));
    expect(forged.status).toBe(403);
  });
});
