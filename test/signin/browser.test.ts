// A real browser (the machine's headless Chromium, driven by playwright-core) signs in through
// the real pages: login, consent, the callback on a small local server; then signs out. The
// pages must work without our script, under our CSP (violations are collected and must be
// none), with labelled fields. Screenshots go to test-output/ for people to look at.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { PASSWORD, authorizationUrl, pkcePair, randomToken, registerClient, registerUser } from '../support/signin.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = path.resolve('test-output');

type CallbackServer = { url: string; requests: URL[]; close(): Promise<void> };

async function callbackServer(): Promise<CallbackServer> {
  const requests: URL[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end('<!doctype html><title>Acme Notes</title><h1>Back at Acme Notes</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** CSP violations, script errors, and failed loads of anything but the page itself. */
function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('response', (response) => {
    // The documents themselves may be 4xx on purpose (a re-rendered login form is a 400).
    if (response.status() >= 400 && response.request().resourceType() !== 'document') {
      problems.push(`${response.status()} ${response.url()}`);
    }
  });
  page.on('requestfailed', (request) => problems.push(`failed ${request.url()}`));
  return problems;
}

describe.each(PROVIDERS)('a real browser on %s', (provider) => {
  let gh: TestGatehouse;
  let browser: Browser;
  let app: CallbackServer;
  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    gh = await startGatehouse(provider);
    app = await callbackServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
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
    await page.screenshot({ path: path.join(OUTPUT, `login-${provider}.png`), fullPage: true });

    // A wrong password first: the generic message, the email still there.
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill('not my password at all');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toBe('Invalid email or password.');
    expect(await page.getByLabel('Email').inputValue()).toBe(user.email);
    await page.screenshot({ path: path.join(OUTPUT, `login-error-${provider}.png`), fullPage: true });

    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(await page.title()).toBe('Allow Acme Notes? · Gatehouse');
    expect(await page.textContent('body')).toContain(user.email);
    expect(await page.getByRole('listitem').allTextContents()).toHaveLength(4);
    await page.screenshot({ path: path.join(OUTPUT, `consent-${provider}.png`), fullPage: true });

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
    await page.screenshot({ path: path.join(OUTPUT, `logout-${provider}.png`), fullPage: true });
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
    await page.screenshot({ path: path.join(OUTPUT, `error-${provider}.png`), fullPage: true });
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
    await page.screenshot({ path: path.join(OUTPUT, `login-mobile-${provider}.png`), fullPage: true });
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(Number(await page.evaluate('document.documentElement.scrollWidth'))).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(OUTPUT, `consent-mobile-${provider}.png`), fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  });
});
