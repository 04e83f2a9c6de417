// A real browser (the machine's headless Chromium through playwright-core) resets a forgotten
// password: "Forgot password?" on the login page, the message from a real SMTP server, the
// emailed link, the new password, back to the sign-in, the application gets its code. Then the
// account page. The pages must work without script and under our CSP (no violations).
import type { Browser } from 'playwright-core';
import { launchChromium, screenshot, watchProblems } from '../support/browser.js';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, exchangeCode, pkcePair, randomToken, registerClient, registerUser } from '../support/signin.js';
import { linkIn, startSmtp, type TestSmtp } from '../support/smtp.js';

const NEW_PASSWORD = 'purple elephants dance at noon';

describe.each(PROVIDERS)('a real browser resets a forgotten password on %s', (provider) => {
  let smtp: TestSmtp;
  let gh: TestGatehouse;
  let browser: Browser;
  beforeAll(async () => {
    smtp = await startSmtp();
    gh = await startGatehouse(provider, { SMTP_URL: smtp.url });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gh?.close();
    await smtp?.close();
  });

  test('from "Forgot password?" through the emailed link to a successful sign-in', async () => {
    const client = await registerClient(gh, { name: 'Acme Notes' });
    const user = await registerUser(gh, { name: 'Katherine Johnson', email: `katherine.${randomToken().slice(0, 6).toLowerCase()}@example.com` });
    const context = await browser.newContext({ viewport: { width: 1100, height: 820 } });
    const page = await context.newPage();
    const problems = watchProblems(page, { requestFailures: false });
    // The application's callback: answered here, its URL kept.
    const callbacks: URL[] = [];
    await context.route(`${client.redirectUri}**`, async (route) => {
      callbacks.push(new URL(route.request().url()));
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in' });
    });

    const { verifier, challenge } = pkcePair();
    await page.goto(authorizationUrl(gh, { client, codeChallenge: challenge }).href);
    expect(await page.title()).toBe('Sign in · Gatehouse');
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
    await screenshot(page, `password-reset-request-${provider}`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByRole('button', { name: 'Send reset link' }).click();
    await page.getByRole('heading', { name: 'Check your email' }).waitFor();

    const link = linkIn(await smtp.nextTo(user.email), '/password-reset/confirm');
    await page.goto(link.href);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    expect(await page.textContent('body')).toContain(user.email);
    await screenshot(page, `password-reset-form-${provider}`);
    await page.getByLabel('New password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set new password' }).click();
    await page.getByRole('heading', { name: 'Your password is changed' }).waitFor();
    await page.getByRole('link', { name: 'Continue to sign in' }).click();

    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(await page.textContent('body')).toContain('Acme Notes');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${client.redirectUri}**`);

    expect(callbacks).toHaveLength(1);
    const code = callbacks[0]!.searchParams.get('code');
    expect((await exchangeCode(gh, client, code!, verifier)).status).toBe(200);

    // The account page of the session just made, under the same CSP and look.
    await page.goto(`${gh.config.issuer}/account`);
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    expect(await page.textContent('body')).toContain(user.email);
    await screenshot(page, `account-${provider}`);
    await page.getByRole('button', { name: 'Remove access for Acme Notes' }).click();
    await page.getByText('The application no longer has access to your account.').waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });
});
