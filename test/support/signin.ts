// Driving sign-in over HTTP as a browser would, one hop at a time: authorization request,
// login and consent forms, callback, token exchange. Used by test/signin/*.test.ts.
import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { createClient } from '../../src/clients/registry.js';
import type { ClientInput } from '../../src/clients/metadata.js';
import { createUser } from '../../src/accounts/users.js';
import { CookieJar } from './cookie-jar.js';
import type { TestGatehouse } from './gatehouse.js';

export const PASSWORD = 'correct horse battery staple';

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function randomToken(): string {
  return randomBytes(12).toString('base64url');
}

export type TestClient = { clientId: string; clientSecret?: string; redirectUri: string; postLogoutRedirectUri: string };

/** A confidential web client (or another profile) registered through the registry. */
export async function registerClient(gh: TestGatehouse, overrides: Partial<ClientInput> = {}): Promise<TestClient> {
  const redirectUri = 'http://127.0.0.1:8765/callback';
  const postLogoutRedirectUri = 'http://127.0.0.1:8765/signed-out';
  const { client, clientSecret } = await createClient(gh.db.prisma, {
    name: 'Acme Notes',
    profile: 'web',
    redirect_uris: [redirectUri],
    post_logout_redirect_uris: [postLogoutRedirectUri],
    scope: ['openid', 'profile', 'email', 'offline_access'],
    ...overrides,
  });
  return {
    clientId: client.client_id,
    ...(clientSecret ? { clientSecret } : {}),
    redirectUri: client.redirect_uris[0] ?? redirectUri,
    postLogoutRedirectUri: client.post_logout_redirect_uris[0] ?? postLogoutRedirectUri,
  };
}

let userCounter = 0;
export async function registerUser(gh: TestGatehouse, overrides: { email?: string; name?: string; password?: string } = {}) {
  userCounter += 1;
  return createUser(gh.db.prisma, {
    email: overrides.email ?? `person${userCounter}-${randomToken().toLowerCase()}@example.com`,
    name: overrides.name ?? 'Ada Lovelace',
    password: overrides.password ?? PASSWORD,
    email_verified: true,
  });
}

export type AuthorizationRequest = {
  client: TestClient;
  scope?: string;
  state?: string;
  nonce?: string;
  codeChallenge?: string | null;
  codeChallengeMethod?: string | null;
  redirectUri?: string;
  responseType?: string;
  extra?: Record<string, string>;
};

export function authorizationUrl(gh: TestGatehouse, request: AuthorizationRequest): URL {
  const url = new URL(`${gh.config.issuer}/auth`);
  const params: Record<string, string | null | undefined> = {
    client_id: request.client.clientId,
    response_type: request.responseType ?? 'code',
    redirect_uri: request.redirectUri ?? request.client.redirectUri,
    scope: request.scope ?? 'openid profile email',
    state: request.state,
    nonce: request.nonce,
    code_challenge: request.codeChallenge,
    code_challenge_method: request.codeChallengeMethod === undefined ? 'S256' : request.codeChallengeMethod,
    ...request.extra,
  };
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null) url.searchParams.set(key, value);
  return url;
}

/** Where a chain of redirects within the issuer ended: one of our pages, or a redirect away. */
export type Landing =
  | { kind: 'page'; url: URL; status: number; html: string; headers: Headers }
  | { kind: 'redirect'; url: URL; status: number; location: URL; headers: Headers };

export type Hop = { method: string; url: string; status: number };

const HTML_ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'", '&#x27;': "'", '&#x2F;': '/', '&#61;': '=', '&#96;': '`' };
export function htmlUnescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|#39|#x27|#x2F|#61|#96);/g, (m) => HTML_ENTITIES[m] ?? m);
}

export type PageForm = { action: string; fields: Record<string, string>; buttons: { name: string; value: string }[] };

/** The forms of a page, with their hidden fields and named submit buttons. */
export function formsOf(html: string): PageForm[] {
  const forms: PageForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const action = /action="([^"]*)"/.exec(match[1] ?? '')?.[1];
    if (action === undefined) continue;
    const fields: Record<string, string> = {};
    for (const input of (match[2] ?? '').matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1];
      const value = /value="([^"]*)"/.exec(input[0])?.[1] ?? '';
      if (name) fields[name] = htmlUnescape(value);
    }
    const buttons: PageForm['buttons'] = [];
    for (const button of (match[2] ?? '').matchAll(/<button\b[^>]*name="([^"]*)"[^>]*value="([^"]*)"[^>]*>/g)) {
      buttons.push({ name: button[1]!, value: button[2]! });
    }
    forms.push({ action: htmlUnescape(action), fields, buttons });
  }
  return forms;
}

export function formWithAction(html: string, suffix: string): PageForm {
  const form = formsOf(html).find((f) => f.action.endsWith(suffix));
  if (!form) throw new Error(`no form posting to …${suffix} on the page:\n${html.slice(0, 2000)}`);
  return form;
}

/** A browser: a cookie jar, and redirects followed while they stay on the issuer. */
export class TestBrowser {
  readonly jar = new CookieJar();
  readonly hops: Hop[] = [];

  /**
   * `headers` go with every request (e.g. X-Forwarded-For through a trusted proxy). `via`: the
   * instance that serves this browser when several share one ISSUER (as a load balancer pins a
   * browser to one backend); Gatehouse builds every URL from ISSUER, so without it every redirect
   * would lead to the issuer's own address.
   */
  constructor(
    private readonly gh: TestGatehouse,
    private readonly headers: Record<string, string> = {},
    private readonly via?: string,
  ) {}

  private get origin(): string {
    return new URL(this.gh.config.issuer).origin;
  }

  async get(url: string | URL): Promise<Landing> {
    return this.follow(new URL(url), 'GET');
  }

  async post(url: string | URL, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Landing> {
    const target = new URL(url, this.gh.config.issuer);
    return this.follow(target, 'POST', new URLSearchParams(fields).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    });
  }

  /** Submits a form of the page as a person would: its hidden fields plus what they typed. */
  async submit(form: PageForm, typed: Record<string, string> = {}): Promise<Landing> {
    return this.post(form.action, { ...form.fields, ...typed });
  }

  private async follow(url: URL, method: string, body?: string, headers: Record<string, string> = {}): Promise<Landing> {
    let current = url;
    let currentMethod = method;
    let currentBody = body;
    for (let hop = 0; hop < 20; hop++) {
      const res = await this.jar.fetch(this.via && current.origin === this.origin ? new URL(`${current.pathname}${current.search}`, this.via) : current, {
        method: currentMethod,
        headers: { accept: 'text/html', ...this.headers, ...(currentBody !== undefined ? headers : {}) },
        ...(currentBody !== undefined ? { body: currentBody } : {}),
      });
      this.hops.push({ method: currentMethod, url: current.toString(), status: res.status });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        const next = new URL(location, current);
        await res.arrayBuffer();
        if (next.origin !== this.origin) return { kind: 'redirect', url: current, status: res.status, location: next, headers: res.headers };
        current = next;
        // 303 (and 302 from a GET) turn into a GET (RFC 9110 §15.4.4).
        currentMethod = 'GET';
        currentBody = undefined;
        continue;
      }
      return { kind: 'page', url: current, status: res.status, html: await res.text(), headers: res.headers };
    }
    throw new Error('too many redirects');
  }
}

export function expectPage(landing: Landing): Extract<Landing, { kind: 'page' }> {
  if (landing.kind !== 'page') throw new Error(`expected a page, got a redirect to ${landing.location.toString()}`);
  return landing;
}

export function expectRedirect(landing: Landing): Extract<Landing, { kind: 'redirect' }> {
  if (landing.kind !== 'redirect') throw new Error(`expected a redirect away, got a ${landing.status} page at ${landing.url.toString()}:\n${landing.html.slice(0, 1500)}`);
  return landing;
}

/** Signs in on the login page that `landing` shows; returns where that leads. */
export async function signIn(browser: TestBrowser, landing: Landing, email: string, password = PASSWORD): Promise<Landing> {
  const page = expectPage(landing);
  return browser.submit(formWithAction(page.html, '/login'), { email, password });
}

/** Answers the consent page that `landing` shows. */
export async function consent(browser: TestBrowser, landing: Landing, decision: 'allow' | 'deny' = 'allow'): Promise<Landing> {
  const page = expectPage(landing);
  return browser.submit(formWithAction(page.html, '/consent'), { decision });
}

export type Callback = { code: string | null; state: string | null; iss: string | null; error: string | null; errorDescription: string | null; url: URL };

export function callbackOf(landing: Landing, client: TestClient): Callback {
  const { location } = expectRedirect(landing);
  const target = `${location.origin}${location.pathname}`;
  if (target !== client.redirectUri) throw new Error(`redirected to ${target}, not the client's redirect_uri`);
  const p = location.searchParams;
  return { code: p.get('code'), state: p.get('state'), iss: p.get('iss'), error: p.get('error'), errorDescription: p.get('error_description'), url: location };
}

export type TokenResponse = { status: number; body: Record<string, unknown>; headers: Headers };

export async function tokenRequest(gh: TestGatehouse, client: TestClient, form: Record<string, string>): Promise<TokenResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = new URLSearchParams(form);
  if (client.clientSecret) {
    const enc = (v: string) => encodeURIComponent(v);
    headers.authorization = `Basic ${Buffer.from(`${enc(client.clientId)}:${enc(client.clientSecret)}`).toString('base64')}`;
  } else {
    body.set('client_id', client.clientId);
  }
  const res = await fetch(`${gh.config.issuer}/token`, { method: 'POST', headers, body: body.toString() });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

export async function exchangeCode(gh: TestGatehouse, client: TestClient, code: string, verifier: string | undefined, redirectUri = client.redirectUri) {
  return tokenRequest(gh, client, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    ...(verifier !== undefined ? { code_verifier: verifier } : {}),
  });
}

export async function userinfo(gh: TestGatehouse, accessToken: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${gh.config.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Verifies an ID token against the issuer's JWKS (RS256 only) and returns its claims. */
export async function verifyIdToken(gh: TestGatehouse, idToken: string, clientId: string): Promise<JWTPayload> {
  const jwks = (await (await fetch(`${gh.config.issuer}/jwks`)).json()) as { keys: Parameters<typeof createLocalJWKSet>[0]['keys'] };
  const { payload, protectedHeader } = await jwtVerify(idToken, createLocalJWKSet({ keys: jwks.keys }), {
    issuer: gh.config.issuer,
    audience: clientId,
    algorithms: ['RS256'],
  });
  if (protectedHeader.alg !== 'RS256') throw new Error(`ID token signed with ${protectedHeader.alg}`);
  return payload;
}

/** OpenID Connect Core §3.1.3.6: left half of SHA-256 of the access token, base64url. */
export function atHash(accessToken: string): string {
  const digest = createHash('sha256').update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/** The whole happy path for a person: authorize, login, consent if asked, callback. */
export async function authorizeAndSignIn(
  gh: TestGatehouse,
  browser: TestBrowser,
  client: TestClient,
  email: string,
  options: { scope?: string; extra?: Record<string, string> } = {},
) {
  const { verifier, challenge } = pkcePair();
  const state = randomToken();
  const nonce = randomToken();
  let landing = await browser.get(authorizationUrl(gh, { client, state, nonce, codeChallenge: challenge, scope: options.scope, extra: options.extra }));
  if (landing.kind === 'page' && landing.html.includes('/login"')) landing = await signIn(browser, landing, email);
  if (landing.kind === 'page' && landing.html.includes('/consent"')) landing = await consent(browser, landing, 'allow');
  return { callback: callbackOf(landing, client), verifier, state, nonce };
}

/** Audit rows are written as requests finish; wait briefly for the expected one. */
export async function auditRows(gh: TestGatehouse, type: string, where: { subject?: string | null; clientId?: string | null } = {}, atLeast = 1) {
  const query = () => gh.db.prisma.auditEvent.findMany({ where: { type, ...where }, orderBy: { at: 'asc' } });
  for (let attempt = 0; attempt < 50; attempt++) {
    const rows = await query();
    if (rows.length >= atLeast) return rows;
    await new Promise((r) => setTimeout(r, 40));
  }
  return query();
}
