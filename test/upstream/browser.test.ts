// A real browser (the machine's headless Chromium, driven by playwright-core) signs in to an app
// through an upstream: the app's authorization request at Gatehouse, "Continue with Corp SSO",
// the upstream Gatehouse's own login page (on another host), back to Gatehouse, consent, and the
// app's callback with a code that redeems. Under our CSP, with no script: violations are collected
// and must be none. Screenshots go to test-output/.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { applicationServer, launchChromium, screenshot, watchProblems, type ApplicationServer } from '../support/browser.js';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, exchangeCode, PASSWORD, pkcePair, randomToken, registerClient } from '../support/signin.js';
import { addOidcUpstream, startUpstreamGatehouse, upstreamPerson } from './helpers.js';

describe.each(PROVIDERS)('a real browser signs in through an upstream on %s', (provider) => {
  let broker: TestGatehouse;
  let upstream: TestGatehouse;
  let browser: Browser;
  let appServer: ApplicationServer;
  let appUrl: string;
  beforeAll(async () => {
    [broker, upstream] = await Promise.all([startGatehouse(provider), startUpstreamGatehouse(provider)]);
    await addOidcUpstream(broker, upstream, 'corp', { display_name: 'Corp SSO', create_users: true, trust_email: true });
    appServer = await applicationServer();
    appUrl = appServer.url;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await appServer?.close();
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
    await screenshot(page, `upstream-login-${provider}`);
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
    await screenshot(page, `upstream-consent-${provider}`);
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
