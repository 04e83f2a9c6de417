// Driving the device flow over HTTP: the device's requests (device authorization, polling) and
// the person's browser (code entry, sign-in, confirmation). Used by test/device and test/http.
import type { ClientInput } from '../../src/clients/metadata.js';
import type { TestGatehouse } from './gatehouse.js';
import {
  TestBrowser,
  expectPage,
  formWithAction,
  registerClient,
  signIn,
  tokenRequest,
  type Landing,
  type TestClient,
  type TokenResponse,
} from './signin.js';

const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const USER_CODE_FORMAT = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

export type DeviceAuthorization = {
  device_code: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string;
  expires_in: number;
  interval: number;
};

/** A public client of profile `device`, registered through the registry. */
export async function registerDeviceClient(gh: TestGatehouse, overrides: Partial<ClientInput> = {}): Promise<TestClient> {
  return registerClient(gh, {
    name: 'Living Room TV',
    profile: 'device',
    redirect_uris: undefined,
    post_logout_redirect_uris: undefined,
    scope: undefined,
    ...overrides,
  });
}

export async function deviceAuthorizationRequest(gh: TestGatehouse, client: TestClient, form: Record<string, string> = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const body = new URLSearchParams(form);
  if (client.clientSecret) {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`;
  } else {
    body.set('client_id', client.clientId);
  }
  const res = await fetch(`${gh.config.issuer}/device/auth`, { method: 'POST', headers, body: body.toString() });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** Starts a device authorization and returns the device's view of it. */
export async function startDeviceAuthorization(gh: TestGatehouse, client: TestClient, scope = 'openid profile email offline_access'): Promise<DeviceAuthorization> {
  const res = await deviceAuthorizationRequest(gh, client, { scope });
  if (res.status !== 200) throw new Error(`device authorization failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as unknown as DeviceAuthorization;
}

export async function pollOnce(gh: TestGatehouse, client: TestClient, deviceCode: string): Promise<TokenResponse> {
  return tokenRequest(gh, client, { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A device that keeps to the polling interval: it never polls sooner than `intervalSeconds`
 * (plus a margin) after its previous poll. Instances configured with a 1 s interval keep the
 * waits short.
 */
export class PolitePoller {
  #last = 0;
  constructor(
    private readonly gh: TestGatehouse,
    private readonly client: TestClient,
    private readonly deviceCode: string,
    private readonly intervalSeconds = 1,
  ) {}

  async poll(): Promise<TokenResponse> {
    const wait = this.#last + this.intervalSeconds * 1000 + 150 - Date.now();
    if (wait > 0) await sleep(wait);
    try {
      return await pollOnce(this.gh, this.client, this.deviceCode);
    } finally {
      this.#last = Date.now();
    }
  }
}

/** The value of a page's input named `name`. */
export function inputValue(html: string, name: string): string | undefined {
  for (const input of html.matchAll(/<input\b[^>]*>/g)) {
    if (new RegExp(`\\bname="${name}"`).test(input[0])) return /\bvalue="([^"]*)"/.exec(input[0])?.[1];
  }
  return undefined;
}

/** Opens the verification URI (or the complete one) and submits the code entry form with `typed`. */
export async function enterCode(browser: TestBrowser, verificationUri: string, typed: string): Promise<Landing> {
  const entry = expectPage(await browser.get(verificationUri));
  return browser.submit(formWithAction(entry.html, '/device'), { user_code: typed });
}

/** Answers the device confirmation page that `landing` shows. */
export async function decide(browser: TestBrowser, landing: Landing, decision: 'approve' | 'deny'): Promise<Landing> {
  const page = expectPage(landing);
  return browser.submit(formWithAction(page.html, '/device'), { decision });
}

/** Entry, sign-in when the browser has no session, confirmation page: returns the confirmation page. */
export async function reachConfirmation(browser: TestBrowser, authorization: DeviceAuthorization, email: string, typed = authorization.user_code): Promise<Extract<Landing, { kind: 'page' }>> {
  let landing = await enterCode(browser, authorization.verification_uri, typed);
  if (landing.kind === 'page' && landing.html.includes('/login"')) landing = await signIn(browser, landing, email);
  const page = expectPage(landing);
  if (!page.html.includes('name="decision" value="approve"')) throw new Error(`expected the device confirmation page, got:\n${page.html.slice(0, 2000)}`);
  return page;
}

/** The visible text of a page, tags removed and entities decoded (enough for assertions). */
export function textOf(html: string): string {
  return html
    .replace(/<head>[\s\S]*?<\/head>/, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}
