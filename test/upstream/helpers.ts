// Two real Gatehouse instances for upstream sign-in tests: the one people sign in to (the broker,
// on 127.0.0.1) and an upstream identity provider (on `localhost`, so that the two keep their
// cookies apart as a browser would: cookies are per host name, not per port). A browser over
// HTTP that follows redirects across both and keeps a cookie jar per host.
import { deriveKeyEncryptionKey } from '../../src/keys/encryption.js';
import { createUpstream, type UpstreamInput } from '../../src/upstream/registry.js';
import { createUser } from '../../src/accounts/users.js';
import type { Provider } from '../support/databases.js';
import { freePort, startGatehouse, TEST_KEY_ENCRYPTION_SECRET, type TestGatehouse } from '../support/gatehouse.js';
import { CookieJar } from '../support/cookie-jar.js';
import { formWithAction, PASSWORD, randomToken, registerClient, type TestClient } from '../support/signin.js';

export const KEK = deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET);

/** An upstream identity provider: a Gatehouse whose issuer is http://localhost:<port>. */
export async function startUpstreamGatehouse(provider: Provider): Promise<TestGatehouse> {
  const port = await freePort();
  return startGatehouse(provider, { PORT: String(port), ISSUER: `http://localhost:${port}` });
}

export const callbackUrlOf = (broker: TestGatehouse) => `${broker.config.issuer}/interaction/upstream/callback`;

/** The broker, registered at the upstream as a first-party web client (no consent page there). */
async function registerBrokerAt(upstream: TestGatehouse, broker: TestGatehouse, overrides: Parameters<typeof registerClient>[1] = {}): Promise<TestClient> {
  return registerClient(upstream, { name: 'Gatehouse broker', redirect_uris: [callbackUrlOf(broker)], first_party: true, ...overrides });
}

/** An OpenID Connect upstream at the broker, discovered from the upstream instance. */
export async function addOidcUpstream(broker: TestGatehouse, upstream: TestGatehouse, id: string, overrides: Partial<UpstreamInput> = {}) {
  const client = await registerBrokerAt(upstream, broker);
  return {
    client,
    view: await createUpstream(broker.db.prisma, KEK, {
      id,
      kind: 'oidc',
      display_name: `Corp ${id}`,
      issuer: upstream.config.issuer,
      client_id: client.clientId,
      client_secret: client.clientSecret!,
      ...overrides,
    } as UpstreamInput),
  };
}

export async function upstreamPerson(upstream: TestGatehouse, options: { email?: string; verified?: boolean; name?: string } = {}) {
  return createUser(upstream.db.prisma, {
    email: options.email ?? `up-${randomToken().toLowerCase()}@example.com`,
    name: options.name ?? 'Grace Hopper',
    password: PASSWORD,
    email_verified: options.verified ?? true,
  });
}

export type Page = { kind: 'page'; url: URL; status: number; html: string };
export type Away = { kind: 'away'; url: URL; location: URL; status: number };
export type Stop = Page | Away;

/**
 * A browser over HTTP: one cookie jar per host, redirects followed across the instances it
 * knows (by origin), stopping at a page or at a redirect to anywhere else (an app's redirect_uri).
 * `rewrite` may change a URL before it is fetched (a tampering browser, in attack tests).
 */
export class TwoSiteBrowser {
  readonly jars = new Map<string, CookieJar>();
  readonly visited: URL[] = [];
  rewrite: ((url: URL) => URL) | undefined;
  /** Stop instead of following a redirect to a URL for which this returns true. */
  stopAt: ((url: URL) => boolean) | undefined;

  constructor(private readonly origins: string[]) {}

  jar(host: string): CookieJar {
    let jar = this.jars.get(host);
    if (!jar) this.jars.set(host, (jar = new CookieJar()));
    return jar;
  }

  async get(url: string | URL): Promise<Stop> {
    return this.follow(new URL(url), 'GET');
  }

  async post(url: string | URL, fields: Record<string, string>, base?: URL): Promise<Stop> {
    return this.follow(new URL(url, base), 'POST', new URLSearchParams(fields).toString());
  }

  async follow(start: URL, method: string, body?: string): Promise<Stop> {
    let url = start;
    let currentMethod = method;
    let currentBody = body;
    for (let hop = 0; hop < 25; hop++) {
      if (this.rewrite) url = this.rewrite(url);
      this.visited.push(url);
      const res = await this.jar(url.hostname).fetch(url, {
        method: currentMethod,
        headers: { accept: 'text/html', ...(currentBody !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(currentBody !== undefined ? { body: currentBody } : {}),
      });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        const next = new URL(location, url);
        if (!this.origins.includes(next.origin) || this.stopAt?.(next)) return { kind: 'away', url, location: next, status: res.status };
        url = next;
        currentMethod = 'GET';
        currentBody = undefined;
        continue;
      }
      return { kind: 'page', url, status: res.status, html: await res.text() };
    }
    throw new Error('too many redirects');
  }
}

export function expectPageStop(stop: Stop): Page {
  if (stop.kind !== 'page') throw new Error(`expected a page, got a redirect to ${stop.location.toString()}`);
  return stop;
}

export function expectAway(stop: Stop): Away {
  if (stop.kind !== 'away') throw new Error(`expected a redirect away, got a ${stop.status} page at ${stop.url.toString()}:\n${stop.html.slice(0, 1500)}`);
  return stop;
}

/** The hrefs of the "Continue with …" links on a login page, by label. */
export function upstreamLinks(html: string): Map<string, string> {
  const links = new Map<string, string>();
  for (const match of html.matchAll(/<a class="button secondary upstream" href="([^"]+)">Continue with ([^<]+)<\/a>/g)) {
    links.set(match[2]!.trim(), match[1]!.replace(/&#x2F;/g, '/').replace(/&amp;/g, '&'));
  }
  return links;
}

/** From the broker's login page, through the upstream's login, to where the broker sends the browser next. */
export async function signInUpstream(browser: TwoSiteBrowser, upstream: TestGatehouse, stop: Stop, email: string, password = PASSWORD): Promise<Stop> {
  const page = expectPageStop(stop);
  if (!page.url.toString().startsWith(upstream.config.issuer)) throw new Error(`expected the upstream's login page, got ${page.url.toString()}:\n${page.html.slice(0, 800)}`);
  const form = formWithAction(page.html, '/login');
  return browser.post(form.action, { ...form.fields, email, password }, page.url);
}

export async function consentIfAsked(browser: TwoSiteBrowser, stop: Stop): Promise<Stop> {
  if (stop.kind !== 'page' || !stop.html.includes('/consent"')) return stop;
  const form = formWithAction(stop.html, '/consent');
  return browser.post(form.action, { ...form.fields, decision: 'allow' }, stop.url);
}

