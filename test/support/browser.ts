// What every browser test shares: Debian's Chromium started the way this machine allows, the
// page problems a test must see none of, screenshots under test-output/, and the application a
// sign-in returns to (a real HTTP server on loopback).
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const OUTPUT = path.resolve('test-output');

/**
 * Headless Chromium as root, without the background traffic (component updates, sync, field
 * trials) that this machine's closed network refuses.
 */
export function launchChromium(): Promise<Browser> {
  mkdirSync(OUTPUT, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A full-page screenshot, test-output/<name>.png, for a person to look at. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(OUTPUT, `${name}.png`), fullPage: true });
}

/**
 * CSP violations, script errors and failed loads of anything but the page itself (a page may be
 * a 4xx on purpose: a re-rendered login form is a 400). `requestFailures: false` leaves out
 * requests the browser cancels itself, as it does a pending passkey request on navigation.
 */
export function watchProblems(page: Page, options: { requestFailures?: boolean } = {}): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400 && response.request().resourceType() !== 'document') problems.push(`${response.status()} ${response.url()}`);
  });
  if (options.requestFailures !== false) page.on('requestfailed', (request) => problems.push(`failed ${request.url()}`));
  return problems;
}

export type ApplicationServer = { url: string; requests: URL[]; close(): Promise<void> };

/** The application a sign-in returns to: answers every path with a small page and records what it was asked. */
export async function applicationServer(title = 'Acme Notes'): Promise<ApplicationServer> {
  const requests: URL[] = [];
  const server = createServer((req, res) => {
    requests.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    res.setHeader('content-type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><title>${title}</title><h1>Back at ${title}</h1>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
