// Request bodies are size-limited, malformed ones refused with 400 in the endpoint's format
// (never a 500 or a stack trace); X-Forwarded-For is believed only behind a trusted proxy,
// and then only the entries the trusted proxies appended.
import { createClient } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { auditRows, authorizationUrl, expectPage, formWithAction, pkcePair, registerClient, TestBrowser } from '../support/signin.js';
import { basicAuth } from '../support/oauth-http.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const STACK_TRACE = /at .*\.(ts|js):\d+|Error:/;

async function send(url: string, init: RequestInit & { duplex?: 'half' }) {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** A body of `size` bytes sent without Content-Length (chunked). */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.subarray(i, i + 8192));
      controller.close();
    },
  });
}

describe.each(PROVIDERS)('request bodies on %s', (provider) => {
  const gh = useGatehouse(provider, { BODY_LIMIT: '4kb' });
  let client: { id: string; auth: string };
  const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

  beforeAll(async () => {
    const created = await createClient(gh.db.prisma, { name: 'svc', profile: 'web', redirect_uris: ['https://app.example.com/cb'] });
    client = { id: created.client.client_id, auth: basicAuth(created.client.client_id, created.clientSecret!) };
  });

  test('a declared body over BODY_LIMIT is refused with 413 before it is read: OAuth JSON at protocol endpoints', async () => {
    for (const path of ['/token', '/token/introspection', '/token/revocation']) {
      const res = await send(`${gh.url}${path}`, { method: 'POST', headers: { ...form, authorization: client.auth }, body: `token=${'x'.repeat(5000)}` });
      expect([path, res.status]).toEqual([path, 413]);
      expect(res.type).toMatch(/^application\/json/);
      expect(res.json()).toEqual({ error: 'invalid_request', error_description: 'request body too large (at most 4096 bytes)' });
    }
    // Just under the limit is read and answered by the endpoint itself.
    const fits = await send(`${gh.url}/token/introspection`, { method: 'POST', headers: { ...form, authorization: client.auth }, body: `token=${'x'.repeat(4000)}` });
    expect(fits.status).toBe(200);
    expect(fits.json()).toEqual({ active: false });
  });

  test('a declared body over BODY_LIMIT on a sign-in form gets a page', async () => {
    const web = await registerClient(gh);
    const browser = new TestBrowser(gh);
    const page = expectPage(await browser.get(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge })));
    const login = formWithAction(page.html, '/login');
    const refused = expectPage(await browser.submit(login, { email: 'a@example.com', password: 'p'.repeat(5000) }));
    expect(refused.status).toBe(413);
    expect(refused.html).toContain('The form sent was too large');
    expect(refused.html).not.toMatch(STACK_TRACE);
  });

  test('bodies without a declared length are cut by the parser reading them', async () => {
    const token = await send(`${gh.url}/token`, {
      method: 'POST',
      headers: { ...form, authorization: client.auth },
      body: chunked(`grant_type=client_credentials&pad=${'x'.repeat(60 * 1024)}`),
      duplex: 'half',
    });
    expect(token.status).toBe(400);
    expect(token.json()).toMatchObject({ error: 'invalid_request', error_description: 'failed to parse the request body' });

    const web = await registerClient(gh);
    const browser = new TestBrowser(gh);
    const page = expectPage(await browser.get(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge })));
    const login = formWithAction(page.html, '/login');
    const res = await browser.jar.fetch(new URL(login.action, gh.config.issuer), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: chunked(new URLSearchParams({ ...login.fields, email: 'a@example.com', password: 'p'.repeat(20_000) }).toString()),
      duplex: 'half',
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  });

  test('malformed JSON, other media types and repeated parameters get 400 invalid_request', async () => {
    const cases: [string, Record<string, string>, string][] = [
      ['malformed JSON', { 'content-type': 'application/json' }, '{"grant_type": "client_credentials"'],
      ['JSON', { 'content-type': 'application/json' }, '{"grant_type": "client_credentials"}'],
      ['plain text', { 'content-type': 'text/plain' }, 'grant_type=client_credentials'],
      ['a repeated parameter', form, 'grant_type=client_credentials&grant_type=refresh_token'],
      ['a repeated client_id', form, `grant_type=client_credentials&client_id=${client.id}&client_id=other`],
    ];
    for (const [what, headers, body] of cases) {
      const res = await send(`${gh.url}/token`, { method: 'POST', headers: { accept: 'application/json', ...headers, authorization: client.auth }, body });
      expect([what, res.status]).toEqual([what, 400]);
      expect([what, res.json().error]).toEqual([what, 'invalid_request']);
      expect(res.text).not.toMatch(STACK_TRACE);
    }
  });
});

describe.each([
  ['no proxy is trusted', { TRUST_PROXY: 'false' }, '127.0.0.1'],
  ['one proxy is trusted', { TRUST_PROXY: 'true' }, '198.51.100.7'],
  ['two proxies are trusted', { TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '2' }, '6.6.6.6'],
])('client addresses when %s', (_what, env, expected) => {
  const gh = useGatehouse('sqlite', { ...env, REQUEST_IP_LIMIT: '3', REQUEST_IP_WINDOW: '10m' });

  test('the address used for logs, audit and rate limits', async () => {
    // A client wrote 6.6.6.6; the proxy next to us appended the address it saw, 198.51.100.7.
    const forwarded = { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' };
    const res = await fetch(`${gh.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', authorization: basicAuth('no-such-client', 'x'), ...forwarded },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(401);
    const requestId = res.headers.get('x-request-id');
    const line = gh.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === requestId && l.msg === 'request');
    expect(String(line?.ip).replace(/^::ffff:/, '')).toBe(expected);
    const [row] = await auditRows(gh, 'client.auth_failed', { clientId: 'no-such-client' });
    expect(String(row?.ip).replace(/^::ffff:/, '')).toBe(expected);

    // Rate limits count by the same address: other forwarded addresses spend the same budget
    // unless a proxy is trusted.
    const remaining = [];
    for (const address of ['203.0.113.1', '203.0.113.2']) {
      const next = await fetch(`${gh.url}/jwks`, { headers: { 'x-forwarded-for': address } });
      remaining.push(next.headers.get('ratelimit-remaining'));
    }
    expect(remaining).toEqual(env.TRUST_PROXY === 'true' ? ['2', '2'] : ['1', '0']);
  });
});
