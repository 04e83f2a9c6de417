// Multi-request flows the benchmark drives itself (autocannon sends one fixed request): a browser
// signing in (authorization code + PKCE), refresh-token rotation chains, device flows. Each
// flow is plain fetch over undici's keep-alive pool, like autocannon's connections.
import { createHash, randomBytes } from 'node:crypto';

export type Target = { issuer: string };
export type Client = { clientId: string; clientSecret: string; redirectUri: string };

const basic = (client: Client) => `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`;

/** A minimal browser: a cookie map per host (names only, all paths), redirects followed by hand. */
class Browser {
  readonly cookies = new Map<string, string>();

  async request(url: URL, method = 'GET', body?: string): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method, headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
    for (const header of res.headers.getSetCookie()) {
      const pair = header.split(';', 1)[0]!;
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(header) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** Follows redirects while they stay on `origin`; returns the page or the redirect leaving it. */
  async follow(url: URL, origin: string, method = 'GET', body?: string): Promise<{ page?: string; away?: URL; status: number }> {
    let current = url;
    for (let hop = 0; hop < 20; hop++) {
      const res = await this.request(current, method, body);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.arrayBuffer();
        const next = new URL(location, current);
        if (next.origin !== origin) return { away: next, status: res.status };
        current = next;
        method = 'GET';
        body = undefined;
        continue;
      }
      const page = await res.text();
      if (res.status >= 400) {
        // The page's title and first paragraph say why; the head of an HTML page does not.
        const why = [/<title>([^<]*)<\/title>/.exec(page)?.[1], /<p\b[^>]*>([^<]*)</.exec(page)?.[1]].filter(Boolean).join(': ');
        throw new Error(`${method} ${current.pathname.replace(/\/interaction\/[^/]+/, '/interaction/…')} answered ${res.status}: ${why || page.slice(0, 300)}`);
      }
      return { page, status: res.status };
    }
    throw new Error('too many redirects');
  }
}

const unescapeHtml = (text: string) => text.replace(/&amp;/g, '&').replace(/&#x2F;/g, '/').replace(/&#61;/g, '=').replace(/&quot;/g, '"').replace(/&#39;/g, "'");

/** The form posting to an action ending in `suffix`, as action + hidden fields. */
function form(html: string, suffix: string): { action: string; fields: Record<string, string> } {
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
    const action = /action="([^"]*)"/.exec(match[1] ?? '')?.[1];
    if (action === undefined || !unescapeHtml(action).endsWith(suffix)) continue;
    const fields: Record<string, string> = {};
    for (const input of (match[2] ?? '').matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1];
      if (name) fields[name] = unescapeHtml(/value="([^"]*)"/.exec(input[0])?.[1] ?? '');
    }
    return { action: unescapeHtml(action), fields };
  }
  throw new Error(`no form posting to …${suffix} on the page: ${html.slice(0, 300)}`);
}

async function tokenRequest(target: Target, client: Client, params: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${target.issuer}/token`, {
    method: 'POST',
    headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/**
 * One complete sign-in: GET /auth, the login form (argon2 verify), consent, the code at the
 * redirect URI, the code exchanged with its PKCE verifier. Returns the refresh token.
 */
export async function signIn(target: Target, client: Client, email: string, password: string): Promise<string> {
  const browser = new Browser();
  const origin = new URL(target.issuer).origin;
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${target.issuer}/auth`);
  for (const [k, v] of Object.entries({
    client_id: client.clientId,
    response_type: 'code',
    redirect_uri: client.redirectUri,
    scope: 'openid email offline_access',
    prompt: 'consent',
    state: randomBytes(8).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  })) {
    auth.searchParams.set(k, v);
  }
  let step = await browser.follow(auth, origin);
  for (let i = 0; i < 4 && step.page !== undefined; i++) {
    const page = step.page;
    const typed: Record<string, string> = page.includes('name="password"') ? { email, password } : { decision: 'allow' };
    const submit = { ...form(page, typed.password ? '/login' : '/consent'), typed };
    step = await browser.follow(new URL(submit.action, target.issuer), origin, 'POST', new URLSearchParams({ ...submit.fields, ...submit.typed }).toString());
  }
  const code = step.away?.searchParams.get('code');
  if (!code) throw new Error(`sign-in ended without a code (${step.away?.toString() ?? 'on a page'})`);
  const token = await tokenRequest(target, client, { grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier });
  const refresh = token.body.refresh_token;
  if (token.status !== 200 || typeof refresh !== 'string') throw new Error(`code exchange failed: ${token.status} ${JSON.stringify(token.body)}`);
  return refresh;
}

/** One refresh-token rotation: the presented token is spent, the returned one is the next. */
export async function rotate(target: Target, client: Client, refreshToken: string): Promise<string> {
  const res = await tokenRequest(target, client, { grant_type: 'refresh_token', refresh_token: refreshToken });
  const next = res.body.refresh_token;
  if (res.status !== 200 || typeof next !== 'string') throw new Error(`refresh failed: ${res.status} ${JSON.stringify(res.body)}`);
  return next;
}

/**
 * A device that is already signed in on the person's browser (`browser`): device authorization,
 * code entry, confirmation (approve), then one poll that gets the tokens.
 */
export function deviceFlowDriver(target: Target, deviceClientId: string, email: string, password: string) {
  const browser = new Browser();
  const origin = new URL(target.issuer).origin;
  let signedIn = false;
  return async function deviceFlow(): Promise<void> {
    const start = await fetch(`${target.issuer}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ client_id: deviceClientId, scope: 'openid' }).toString(),
    });
    const authorization = (await start.json()) as { device_code?: string; user_code?: string; verification_uri?: string };
    if (start.status !== 200 || !authorization.device_code) throw new Error(`device authorization failed: ${start.status} ${JSON.stringify(authorization)}`);
    let step = await browser.follow(new URL(authorization.verification_uri!), origin);
    const entry = form(step.page!, '/device');
    step = await browser.follow(new URL(entry.action, target.issuer), origin, 'POST', new URLSearchParams({ ...entry.fields, user_code: authorization.user_code! }).toString());
    if (!signedIn && step.page?.includes('name="password"')) {
      const login = form(step.page, '/login');
      step = await browser.follow(new URL(login.action, target.issuer), origin, 'POST', new URLSearchParams({ ...login.fields, email, password }).toString());
      signedIn = true;
    }
    const confirm = form(step.page!, '/device');
    await browser.follow(new URL(confirm.action, target.issuer), origin, 'POST', new URLSearchParams({ ...confirm.fields, decision: 'approve' }).toString());
    const poll = await fetch(`${target.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ client_id: deviceClientId, grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: authorization.device_code }).toString(),
    });
    const tokens = (await poll.json()) as { access_token?: string };
    if (poll.status !== 200 || !tokens.access_token) throw new Error(`device token poll failed: ${poll.status} ${JSON.stringify(tokens)}`);
  };
}

export type LoopResult = { requests: number; errors: number; durationSeconds: number; latenciesMs: number[]; firstError?: string };

/**
 * Runs `concurrency` loops of `step` for `seconds`; each loop owns its state (`init`) so flows
 * never share a refresh token or a browser. A failed step counts as an error and the loop
 * re-initialises.
 */
export async function runLoops<S>(
  concurrency: number,
  seconds: number,
  init: (i: number) => Promise<S>,
  step: (state: S) => Promise<S>,
  /** Called once every loop is initialised, as the measured part starts (CPU counting, profiling). */
  onStart: () => void = () => undefined,
): Promise<LoopResult> {
  const latenciesMs: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const states = await Promise.all(Array.from({ length: concurrency }, (_, i) => init(i)));
  onStart();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    states.map(async (initial, i) => {
      let state = initial;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          state = await step(state);
          latenciesMs.push(performance.now() - t0);
        } catch (error) {
          errors++;
          firstError ??= (error as Error).message;
          state = await init(i).catch(() => state);
        }
      }
    }),
  );
  return { requests: latenciesMs.length, errors, durationSeconds: (performance.now() - started) / 1000, latenciesMs, ...(firstError ? { firstError } : {}) };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
