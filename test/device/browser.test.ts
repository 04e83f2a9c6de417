// A real browser (the machine's headless Chromium, driven by playwright-core) connects a device:
// the code typed in lower case on the entry page, the login page, the confirmation, Approve,
// the success page; the device's poll then gets its tokens. And verification_uri_complete, with
// a session: the code filled in, the confirmation, Deny. The pages must work without our script
// and under our CSP (violations are collected and must be none). Screenshots go to test-output/.
import type { Browser } from 'playwright-core';
import { launchChromium, screenshot, watchProblems } from '../support/browser.js';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { PASSWORD, randomToken, registerUser } from '../support/signin.js';
import { PolitePoller, registerDeviceClient, startDeviceAuthorization } from '../support/device-flow.js';

describe.each(PROVIDERS)('a real browser connects a device on %s', (provider) => {
  let gh: TestGatehouse;
  let browser: Browser;
  beforeAll(async () => {
    gh = await startGatehouse(provider, { DEVICE_POLL_INTERVAL: '1' });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await gh?.close();
  });

  test('types the code in lower case, signs in, approves; the device gets its tokens', async () => {
    const client = await registerDeviceClient(gh);
    const user = await registerUser(gh, { name: 'Mary Jackson', email: `mary.${randomToken().slice(0, 6).toLowerCase()}@example.com` });
    const authorization = await startDeviceAuthorization(gh, client);
    const device = new PolitePoller(gh, client, authorization.device_code);
    expect((await device.poll()).body).toMatchObject({ error: 'authorization_pending' });

    const context = await browser.newContext({ viewport: { width: 1100, height: 820 } });
    const page = await context.newPage();
    const problems = watchProblems(page);

    await page.goto(authorization.verification_uri);
    expect(await page.title()).toBe('Connect a device · Gatehouse');
    await screenshot(page, `device-entry-${provider}`);

    // A wrong code first: the message, and the field keeps what was typed.
    await page.getByLabel('Code').fill('bcdf-ghjk-x');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('A code has 8 letters');
    expect(await page.getByLabel('Code').inputValue()).toBe('bcdf-ghjk-x');

    await page.getByLabel('Code').fill(` ${authorization.user_code.toLowerCase()} `);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(await page.title()).toBe('Sign in · Gatehouse');
    expect(await page.textContent('body')).toContain('Living Room TV');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    await page.getByRole('button', { name: 'Approve' }).waitFor();
    expect(await page.title()).toBe('Connect Living Room TV? · Gatehouse');
    const body = (await page.textContent('body')) ?? '';
    expect(body).toContain(authorization.user_code);
    expect(body).toContain(user.email);
    expect(await page.getByRole('listitem').allTextContents()).toHaveLength(4);
    await screenshot(page, `device-confirm-${provider}`);

    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();
    await screenshot(page, `device-done-${provider}`);

    const tokens = await device.poll();
    expect(tokens.status).toBe(200);
    expect(tokens.body).toMatchObject({ access_token: expect.any(String), id_token: expect.any(String), refresh_token: expect.any(String) });
    expect(problems).toEqual([]);
    await context.close();
  });

  test('verification_uri_complete on a phone, already signed in: the code filled in, the confirmation, Deny', async () => {
    const client = await registerDeviceClient(gh, { name: 'Garage Console' });
    const user = await registerUser(gh, { email: `annie.${randomToken().slice(0, 6).toLowerCase()}@example.com` });
    const context = await browser.newContext({ viewport: { width: 390, height: 780 }, deviceScaleFactor: 2, isMobile: true });
    const page = await context.newPage();
    const problems = watchProblems(page);

    // Sign in once through a first device code, approved.
    const first = await startDeviceAuthorization(gh, client);
    await page.goto(first.verification_uri_complete);
    expect(await page.getByLabel('Code').inputValue()).toBe(first.user_code);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();

    // The second code: filled in, no login page, but the confirmation all the same.
    const second = await startDeviceAuthorization(gh, client);
    await page.goto(second.verification_uri_complete);
    expect(await page.getByLabel('Code').inputValue()).toBe(second.user_code);
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
    await screenshot(page, `device-entry-mobile-${provider}`);
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('button', { name: 'Deny' }).waitFor();
    expect(await page.textContent('body')).toContain(second.user_code);
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
    await screenshot(page, `device-confirm-mobile-${provider}`);
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.getByRole('heading', { name: 'Access denied' }).waitFor();
    expect(await page.textContent('body')).toContain('Garage Console was not connected to your account');

    expect((await new PolitePoller(gh, client, second.device_code).poll()).body).toMatchObject({ error: 'access_denied' });
    expect(problems).toEqual([]);
    await context.close();
  });
});
