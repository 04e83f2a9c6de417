// Passkeys in a real browser: headless Chromium (playwright-core) with a virtual authenticator
// added through the Chrome DevTools Protocol (WebAuthn.addVirtualAuthenticator: CTAP2, resident
// keys, user verification). A person signing in to a client that requires MFA registers a
// passkey as their second factor, then signs in with password and passkey, then without a
// password ("Sign in with a passkey"); openid-client reads amr/acr from each ID token. The pages
// run only our scripts from /static under the CSP (violations are collected and must be none).
// WebAuthn refuses IP addresses as relying-party IDs, so this issuer is http://localhost.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { applicationServer, launchChromium, screenshot, watchProblems, type ApplicationServer } from '../support/browser.js';
import { PROVIDERS } from '../support/databases.js';
import { freePort } from '../support/free-port.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { MFA_ACR, codeAt, currentStep, idTokenClaims, relyingParty } from '../support/mfa.js';
import { PASSWORD, auditRows, authorizationUrl, pkcePair, randomToken, registerClient, registerUser, type TestClient } from '../support/signin.js';

describe.each(PROVIDERS)('passkeys in Chromium on %s', (provider) => {
  let gh: TestGatehouse;
  let browser: Browser;
  let app: ApplicationServer;
  beforeAll(async () => {
    const port = await freePort();
    gh = await startGatehouse(provider, { PORT: String(port), ISSUER: `http://localhost:${port}`, LOGIN_IP_LIMIT: '1000' });
    app = await applicationServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await gh?.close();
  });

  /** Opens an authorization request in `page`; `finish` waits for the callback and returns the ID token's claims. */
  async function authorize(page: Page, client: TestClient) {
    const { verifier, challenge } = pkcePair();
    const state = randomToken();
    const nonce = randomToken();
    await page.goto(authorizationUrl(gh, { client, state, nonce, codeChallenge: challenge }).toString());
    return {
      finish: async (action: () => Promise<void>) => {
        await Promise.all([page.waitForURL(`${app.url}/callback?**`), action()]);
        return idTokenClaims(await relyingParty(gh, client), new URL(page.url()), { verifier, state, nonce });
      },
    };
  }

  async function shot(page: Page, name: string) {
    await screenshot(page, `${name}-${provider}`);
  }

  test('registers a passkey during sign-in, then uses it as second factor and without a password', async () => {
    const client = await registerClient(gh, { redirect_uris: [`${app.url}/callback`], first_party: true });
    await gh.db.prisma.client.update({ where: { id: client.clientId }, data: { requireMfa: true } });
    const user = await registerUser(gh, { email: `dorothy.${randomToken().slice(0, 6).toLowerCase()}@example.com`, name: 'Dorothy Vaughan' });
    const context: BrowserContext = await browser.newContext({ viewport: { width: 1000, height: 900 } });
    const page = await context.newPage();
    const problems = watchProblems(page, { requestFailures: false });
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });

    // 1. Password, then the enrolment page: create a passkey named "Laptop".
    let flow = await authorize(page, client);
    await shot(page, 'mfa-login-with-passkey');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Create a passkey' }).waitFor();
    expect(await page.title()).toBe('Set up a second factor · Gatehouse');
    await shot(page, 'mfa-enrol');
    await page.getByLabel('Name for this passkey').fill('Laptop');
    await page.getByRole('button', { name: 'Create a passkey' }).click();
    await page.getByRole('button', { name: 'I saved them, continue' }).waitFor();
    expect(await page.locator('.recovery-codes li').count()).toBe(10);
    await shot(page, 'mfa-recovery-codes');
    let claims = await flow.finish(() => page.getByRole('button', { name: 'I saved them, continue' }).click());
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.acr).toBe(MFA_ACR);
    const stored = await gh.db.prisma.mfaPasskey.findMany({ where: { userId: user.id } });
    expect(stored.map((p) => [p.name, p.backedUp])).toEqual([['Laptop', false]]);
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials.map((c) => c.isResidentCredential)).toEqual([true]);

    // 2. A new session: password, then the passkey as the second factor. The login page offers
    // the passkey in the email field's autofill (conditional mediation), which the virtual
    // authenticator would answer at once: it does not simulate a person's touch until asked.
    const presence = (enabled: boolean) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
    await presence(false);
    await context.clearCookies();
    flow = await authorize(page, client);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Use a passkey' }).waitFor();
    expect(await page.title()).toBe('Confirm it is you · Gatehouse');
    await shot(page, 'mfa-challenge');
    await presence(true);
    claims = await flow.finish(() => page.getByRole('button', { name: 'Use a passkey' }).click());
    expect(claims.amr).toEqual(['pwd', 'hwk', 'mfa']);
    expect(claims.sub).toBe(user.id);

    // 3. A new session: no password, the passkey alone (discoverable, user verified), with the
    // button on the login page.
    await presence(false);
    await context.clearCookies();
    flow = await authorize(page, client);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).waitFor();
    await presence(true);
    claims = await flow.finish(() => page.getByRole('button', { name: 'Sign in with a passkey' }).click());
    expect(claims.sub).toBe(user.id);
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    expect(claims.acr).toBe(MFA_ACR);
    const row = await gh.db.prisma.mfaPasskey.findFirstOrThrow({ where: { userId: user.id } });
    expect(row.lastUsedAt).not.toBeNull();

    // 3b. And through autofill (conditional mediation): the login page asks for the passkey as it
    // loads; the virtual authenticator answers as a person picking it from the email field would.
    await context.clearCookies();
    flow = await authorize(page, client);
    claims = await flow.finish(async () => undefined);
    expect(claims.amr).toEqual(['hwk', 'mfa']);
    const passwordless = await auditRows(gh, 'login.success', { subject: user.id }, 4);
    expect(passwordless.filter((e) => (e.details as Record<string, unknown>).method === 'passkey')).toHaveLength(2);

    // 3c. An assertion answers the challenge of one sign-in only. A second browser holding the
    // same passkey (copied into its own virtual authenticator) answers sign-in X but keeps the
    // answer instead of submitting it, so X's challenge is unused and the answer's counter is
    // ahead of the stored one. Submitted in a third browser's sign-in Y with Y's own form token,
    // as by someone who captured it, it is refused; submitted in X, it works.
    const [credential] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    const holder = await browser.newContext();
    // Runs in the page before its scripts: the passkey form's submit() keeps the form instead.
    await holder.addInitScript({
      content: 'HTMLFormElement.prototype.submit = function () { window.heldAnswer = new URLSearchParams(new FormData(this)).toString(); };',
    });
    const holderPage = await holder.newPage();
    const holderCdp = await holder.newCDPSession(holderPage);
    await holderCdp.send('WebAuthn.enable');
    const copy = await holderCdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    await holderCdp.send('WebAuthn.addCredential', { authenticatorId: copy.authenticatorId, credential: credential! });
    await authorize(holderPage, client);
    // Functions, not strings: the page's CSP (script-src 'self') refuses eval.
    const heldAnswer = () => (globalThis as unknown as { heldAnswer?: string }).heldAnswer;
    await holderPage.waitForFunction(heldAnswer);
    const held = new URLSearchParams((await holderPage.evaluate(heldAnswer)) ?? '');
    const formAction = async (p: Page) => new URL((await p.locator('form[data-passkey="authenticate"]').getAttribute('action'))!, gh.config.issuer).toString();
    const heldAction = await formAction(holderPage);
    expect(held.get('credential')).toBeTruthy();
    const counter = async () => (await gh.db.prisma.mfaPasskey.findFirstOrThrow({ where: { userId: user.id } })).counter;
    const counterBefore = await counter();

    const attacker = await browser.newContext();
    const attackerPage = await attacker.newPage();
    await authorize(attackerPage, client);
    const attackerAction = await formAction(attackerPage);
    expect(attackerAction).not.toBe(heldAction);
    const attackerCsrf = (await attackerPage.locator('form[data-passkey="authenticate"] input[name="csrf"]').getAttribute('value'))!;
    const replayed = await attackerPage.request.post(attackerAction, { form: { csrf: attackerCsrf, credential: held.get('credential')! }, maxRedirects: 0 });
    expect(replayed.status()).toBe(400);
    expect(await replayed.text()).toContain('The passkey did not work');
    expect(await counter()).toBe(counterBefore);
    await attacker.close();

    const rightful = await holderPage.request.post(heldAction, { form: Object.fromEntries(held), maxRedirects: 0 });
    expect(rightful.status()).toBe(303);
    expect(await counter()).toBeGreaterThan(counterBefore);
    await holder.close();

    // 4. The security page of this session: the passkey by name; new recovery codes.
    await page.goto(`${gh.config.issuer}/account/security`);
    expect(await page.title()).toBe('Security · Gatehouse');
    expect(await page.getByRole('list', { name: 'Your passkeys' }).textContent()).toContain('Laptop');
    await shot(page, 'mfa-security');
    await page.getByRole('button', { name: 'Make new recovery codes' }).click();
    await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
    const codes = await page.locator('.recovery-codes code').allTextContents();
    expect(codes).toHaveLength(10);
    await page.getByRole('link', { name: 'Back to security settings' }).click();
    await page.getByRole('button', { name: 'Add an authenticator app' }).click();
    await page.getByLabel('Code from the app').waitFor();
    await shot(page, 'mfa-totp-add');
    const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/ /g, '');
    const step = currentStep();
    await page.getByLabel('Code from the app').fill(codeAt(secret, step));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('button', { name: 'Remove the authenticator app' }).waitFor();
    expect(problems).toEqual([]);
    await context.close();

    // 5. Without JavaScript: the authenticator app, then a recovery code, as second factor.
    const plain = await browser.newContext({ viewport: { width: 1000, height: 900 }, javaScriptEnabled: false });
    const noScript = await plain.newPage();
    for (const [factor, typed] of [['totp', codeAt(secret, step + 1)], ['recovery', codes[0]!]] as const) {
      await plain.clearCookies();
      flow = await authorize(noScript, client);
      await noScript.getByLabel('Email').fill(user.email);
      await noScript.getByLabel('Password').fill(PASSWORD);
      await noScript.getByRole('button', { name: 'Sign in', exact: true }).click();
      await noScript.getByRole('button', { name: 'Verify' }).waitFor();
      if (factor === 'totp') {
        await shot(noScript, 'mfa-challenge-all-factors');
        // The passkey button without script: the page says so and the other ways stay.
        await noScript.getByRole('button', { name: 'Use a passkey' }).click();
        await noScript.getByRole('alert').waitFor();
        expect(await noScript.getByRole('alert').textContent()).toContain('Passkeys need JavaScript');
        claims = await flow.finish(async () => {
          await noScript.getByLabel('Code from your authenticator app').fill(typed);
          await noScript.getByRole('button', { name: 'Verify' }).click();
        });
      } else {
        await noScript.getByText('Use a recovery code').click();
        await noScript.getByLabel('Recovery code').fill(typed);
        await noScript.getByRole('button', { name: 'Use recovery code' }).click();
        await noScript.getByRole('heading', { name: 'Recovery code used' }).waitFor();
        expect(await noScript.locator('#recovery-remaining').textContent()).toBe('9');
        await shot(noScript, 'mfa-recovery-used');
        claims = await flow.finish(() => noScript.getByRole('button', { name: 'Continue' }).click());
      }
      expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
    }
    await plain.close();
  });
});
