// A real browser (the machine's headless Chromium, driven by playwright-core) signs in through
// the real pages: login, consent, the callback on a small local server; then signs out. The
// pages must work without our script, under our CSP (violations are collected and must be
// none), with labelled fields. Screenshots go to test-output/ for people to look at.
import type { Browser } from 'playwright-core';
import { applicationServer, launchChromium, screenshot, watchProblems, type ApplicationServer } from '../support/browser.js';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { PASSWORD, authorizationUrl, pkcePair, randomToken, registerClient, registerUser } from '../support/signin.js';

describe.each(PROVIDERS)('a real browser on %s', (provider) => {
  let gh: TestGatehouse;
  let browser: Browser;
  let app: ApplicationServer;
  beforeAll(async () => {
    gh = await startGatehouse(provider);
    app = await applicationServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await gh?.close();
  });

  test('signs in through the login and consent pages and reaches the callback with code and state', async () => {
    const client = await registerClient(gh, {
      redirect_uris: [`${app.url}/callback`],
      post_logout_redirect_uris: [`${app.url}/signed-out`],
    });
    const user = await registerUser(gh, { name: 'Katherine Johnson', email: `katherine.${randomToken().slice(0, 6).toLowerCase()}@example.com` });
    const context = await browser.newContext({ viewport: { width: 1100, height: 820 } });
    const page = await context.newPage();
    const problems = watchProblems(page);
    const state = randomToken();

    // offline_access comes with prompt=consent (OpenID Connect Core §11).
    const authorize = authorizationUrl(gh, {
      client,
      state,
      codeChallenge: pkcePair().challenge,
      scope: 'openid profile email offline_access',
      extra: { prompt: 'consent' },
    });
    await page.goto(authorize.toString());
    expect(await page.title()).toBe('Sign in · Gatehouse');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign in');
    await screenshot(page, `login-${provider}`);

    // A wrong password first: the generic message, the email still there.
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill('not my password at all');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toBe('Invalid email or password.');
    expect(await page.getByLabel('Email').inputValue()).toBe(user.email);
    await screenshot(page, `login-error-${provider}`);

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(await page.title()).toBe('Allow Acme Notes? · Gatehouse');
    expect(await page.textContent('body')).toContain(user.email);
    expect(await page.getByRole('listitem').allTextContents()).toHaveLength(4);
    await screenshot(page, `consent-${provider}`);

    // Allow: the consent form's redirect chain ends at the client (form-action must allow it).
    await Promise.all([page.waitForURL(`${app.url}/callback?**`), page.getByRole('button', { name: 'Allow' }).click()]);
    const landed = new URL(page.url());
    expect(landed.searchParams.get('code')).toEqual(expect.any(String));
    expect(landed.searchParams.get('state')).toBe(state);
    expect(landed.searchParams.get('iss')).toBe(gh.config.issuer);
    expect(app.requests.some((r) => r.pathname === '/callback' && r.searchParams.get('state') === state)).toBe(true);

    // RP-initiated logout: confirm, and land on the registered post-logout URI.
    const logoutState = randomToken();
    const logoutUrl = new URL(`${gh.config.issuer}/session/end`);
    logoutUrl.searchParams.set('client_id', client.clientId);
    logoutUrl.searchParams.set('post_logout_redirect_uri', `${app.url}/signed-out`);
    logoutUrl.searchParams.set('state', logoutState);
    await page.goto(logoutUrl.toString());
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await screenshot(page, `logout-${provider}`);
    await Promise.all([page.waitForURL(`${app.url}/signed-out?**`), page.getByRole('button', { name: 'Sign out' }).click()]);
    expect(new URL(page.url()).searchParams.get('state')).toBe(logoutState);

    // With no session left, logout is handed on by oidc-provider's self-submitting page, whose
    // one inline script runs under its CSP hash and ends on our signed-out page.
    await page.goto(`${gh.config.issuer}/session/end`);
    await page.getByRole('heading', { name: 'You are signed out' }).waitFor();

    expect(problems).toEqual([]);
    await context.close();
  });

  test('an unregistered redirect_uri shows a friendly error page and goes nowhere', async () => {
    const client = await registerClient(gh, { redirect_uris: [`${app.url}/callback`] });
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    const problems = watchProblems(page);
    const requestsBefore = app.requests.length;
    const response = await page.goto(
      authorizationUrl(gh, { client, redirectUri: `${app.url}/elsewhere`, codeChallenge: pkcePair().challenge }).toString(),
    );
    expect(response?.status()).toBe(400);
    expect(new URL(page.url()).origin).toBe(new URL(gh.config.issuer).origin);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Something went wrong');
    expect(await page.textContent('body')).toContain('not registered');
    await screenshot(page, `error-${provider}`);
    expect(app.requests.length).toBe(requestsBefore);
    expect(problems).toEqual([]);
    await context.close();
  });

  test('the pages fit a phone screen', async () => {
    const client = await registerClient(gh, { redirect_uris: [`${app.url}/callback`] });
    const user = await registerUser(gh, { email: `dorothy.${randomToken().slice(0, 6).toLowerCase()}@example.com` });
    const context = await browser.newContext({ viewport: { width: 390, height: 780 }, deviceScaleFactor: 2, isMobile: true });
    const page = await context.newPage();
    const problems = watchProblems(page);
    await page.goto(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge }).toString());
    // Nothing wider than the screen.
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
    await screenshot(page, `login-mobile-${provider}`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
    await screenshot(page, `consent-mobile-${provider}`);
    expect(problems).toEqual([]);
    await context.close();
  });
});
