// A real browser (the machine's headless Chromium, driven by playwright-core) signs in to an app
// through an upstream: the app's authorization request at Gatehouse, "Continue with Corp SSO",
// the upstream Gatehouse's own login page (on another host), back to Gatehouse, consent, and the
// app's callback with a code that redeems. Under our CSP, with no script: violations are collected
// and must be none. Screenshots go to test-output/.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, exchangeCode, PASSWORD, pkcePair, randomToken, registerClient } from '../support/signin.js';
import { addOidcUpstream, startUpstreamGatehouse, upstreamPerson } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = path.resolve('test-output');

function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400 && response.request().resourceType() !== 'document') problems.push(`${response.status()} ${response.url()}`);
  });
  page.on('requestfailed', (request) => problems.push(`failed ${request.url()}`));
  return problems;
}

describe.each(PROVIDERS)('a real browser signs in through an upstream on %s', (provider) => {
  let broker: TestGatehouse;
  let upstream: TestGatehouse;
  let browser: Browser;
  let appServer: Server;
  let appUrl: string;
  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    [broker, upstream] = await Promise.all([startGatehouse(provider), startUpstreamGatehouse(provider)]);
    await addOidcUpstream(broker, upstream, 'corp', { display_name: 'Corp SSO', create_users: true, trust_email: true });
    appServer = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end('<!doctype html><title>Acme Notes</title><h1>Back at Acme Notes</h1>');
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    appUrl = `http://127.0.0.1:${(appServer.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => appServer?.close(resolve));
    await Promise.all([broker?.close(), upstream?.close()]);
  });

  test("from the app's authorization request through the upstream's login page back to a code at Gatehouse", async () => {
    const app = await registerClient(broker, { redirect_uris: [`${appUrl}/callback`] });
    const person = await upstreamPerson(upstream, { name: 'Dorothy Vaughan' });
    const { verifier, challenge } = pkcePair();
    const state = randomToken();
    const context = await browser.newContext({ viewport: { width: 1100, height: 820 } });
    const page = await context.newPage();
    const problems = watchProblems(page);

    await page.goto(authorizationUrl(broker, { client: app, state, nonce: randomToken(), codeChallenge: challenge }).toString());
    expect(await page.title()).toBe('Sign in · Gatehouse');
    await page.screenshot({ path: path.join(OUTPUT, `upstream-login-${provider}.png`), fullPage: true });
    await page.getByRole('link', { name: 'Continue with Corp SSO' }).click();

    // The upstream's own login page, on its own host.
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    expect(new URL(page.url()).origin).toBe(new URL(upstream.config.issuer).origin);
    await page.getByLabel('Email').fill(person.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    // Back at Gatehouse: the app asks for consent, then the browser lands at the app with a code.
    await page.getByRole('button', { name: 'Allow' }).waitFor();
    expect(new URL(page.url()).origin).toBe(new URL(broker.config.issuer).origin);
    await page.screenshot({ path: path.join(OUTPUT, `upstream-consent-${provider}.png`), fullPage: true });
    await Promise.all([page.waitForURL(`${appUrl}/callback?**`), page.getByRole('button', { name: 'Allow' }).click()]);
    const callback = new URL(page.url());
    expect(callback.searchParams.get('state')).toBe(state);
    expect(callback.searchParams.get('iss')).toBe(broker.config.issuer);

    const tokens = await exchangeCode(broker, { ...app, redirectUri: `${appUrl}/callback` }, callback.searchParams.get('code')!, verifier);
    expect(tokens.status).toBe(200);
    const user = await broker.db.prisma.user.findUniqueOrThrow({ where: { email: person.email } });
    expect(user.name).toBe('Dorothy Vaughan');
    expect(problems).toEqual([]);
    await context.close();
  });
});
