// Every URL Gatehouse publishes or renders comes from ISSUER, never from the request's Host,
// X-Forwarded-Host or an absolute-form request target (src/http/issuer-origin.ts); discovery and
// JWKS may be cached by shared caches for a short time. With an https issuer, a request that did
// not arrive over TLS is refused with a clear 400 and HSTS is sent only on secure requests.
import { request as httpRequest } from 'node:http';
import { describe, expect, test } from '@jest/globals';
import { PROVIDERS } from '../support/databases.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, formWithAction, htmlUnescape, pkcePair, registerClient } from '../support/signin.js';
import { registerDeviceClient } from '../support/device-flow.js';
import { useGatehouse } from '../support/use-gatehouse.js';

type RawResponse = { status: number; headers: Record<string, string | string[] | undefined>; body: string };

/** One request with exactly these headers and request target (fetch would not send a forged Host). */
function raw(gh: TestGatehouse, target: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  const { port } = new URL(gh.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: target, headers: { host: `127.0.0.1:${port}`, ...options.headers }, setHost: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Every value of a discovery document that is a URL. */
function urlsOf(document: Record<string, unknown>): string[] {
  return Object.values(document).filter((value): value is string => typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(value));
}

const EVIL = 'evil.example';

describe.each(PROVIDERS)('URLs come from ISSUER (%s)', (provider) => {
  describe.each([
    ['TRUST_PROXY off', 'false'],
    ['TRUST_PROXY on', 'true'],
  ])('%s', (_what, trustProxy) => {
    const gh = useGatehouse(provider, { TRUST_PROXY: trustProxy });

    // Each way a request can name a host: the Host header, X-Forwarded-Host/-Proto (believed only
    // with TRUST_PROXY), and an absolute-form request target (RFC 9112 §3.2.2).
    const forgeries = (path: string): [string, string, Record<string, string>][] => [
      ['Host', path, { host: EVIL }],
      ['X-Forwarded-Host', path, { 'x-forwarded-host': EVIL, 'x-forwarded-proto': 'https' }],
      ['absolute-form target', `http://${EVIL}${path}`, { host: EVIL }],
    ];

    test('finding 24.1: discovery names only ISSUER URLs, whatever host the request names', async () => {
      for (const [how, target, headers] of forgeries('/.well-known/openid-configuration')) {
        const res = await raw(gh, target, { headers });
        expect([how, res.status]).toEqual([how, 200]);
        const document = JSON.parse(res.body) as Record<string, unknown>;
        expect(document.issuer).toBe(gh.config.issuer);
        const urls = urlsOf(document);
        expect(urls).toEqual(expect.arrayContaining([`${gh.config.issuer}/token`, `${gh.config.issuer}/jwks`]));
        for (const url of urls) expect([how, url.startsWith(`${gh.config.issuer}/`) || url === gh.config.issuer]).toEqual([how, true]);
      }
    });

    test('finding 24.1: the device verification_uri and the logout form action come from ISSUER', async () => {
      const device = await registerDeviceClient(gh);
      for (const [how, target, headers] of forgeries('/device/auth')) {
        const res = await raw(gh, target, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({ client_id: device.clientId, scope: 'openid' }).toString(),
        });
        expect([how, res.status]).toEqual([how, 200]);
        const body = JSON.parse(res.body) as { verification_uri: string; verification_uri_complete: string };
        expect([how, body.verification_uri]).toEqual([how, `${gh.config.issuer}/device`]);
        expect([how, body.verification_uri_complete.startsWith(`${gh.config.issuer}/device?`)]).toEqual([how, true]);
      }
      for (const [how, target, headers] of forgeries('/session/end')) {
        const res = await raw(gh, target, { headers: { ...headers, accept: 'text/html' } });
        expect([how, res.status]).toEqual([how, 200]);
        const form = formWithAction(res.body, '/session/end/confirm');
        expect([how, htmlUnescape(form.action)]).toEqual([how, `${gh.config.issuer}/session/end/confirm`]);
      }
    });
  });

  describe('caching', () => {
    const gh = useGatehouse(provider, { KEY_ACTIVATION_DELAY: '2m', KEY_REFRESH_INTERVAL: '30s' });

    test('finding 24.1: discovery and JWKS carry an explicit public Cache-Control no longer than the key activation delay', async () => {
      for (const path of ['/.well-known/openid-configuration', '/jwks']) {
        const res = await fetch(`${gh.url}${path}`);
        expect([path, res.status]).toEqual([path, 200]);
        const cacheControl = res.headers.get('cache-control') ?? '';
        expect([path, cacheControl]).toEqual([path, expect.stringMatching(/^public, max-age=\d+$/)]);
        const maxAge = Number(/max-age=(\d+)/.exec(cacheControl)![1]);
        // A key rotated now is published by every instance within KEY_REFRESH_INTERVAL and signs
        // after KEY_ACTIVATION_DELAY: a cached JWKS must be refetched in between.
        expect([path, maxAge > 0 && maxAge <= 120 - 30]).toEqual([path, true]);
      }
    });
  });
});

describe.each(PROVIDERS)('an https issuer behind a TLS-terminating proxy (%s)', (provider) => {
  describe.each([
    ['TRUST_PROXY off (the proxy is not believed)', 'false'],
    ['TRUST_PROXY on, a plain http request straight to the server', 'true'],
  ])('%s', (_what, trustProxy) => {
    const gh = useGatehouse(provider, { ISSUER: 'https://auth.example.test', TRUST_PROXY: trustProxy });

    test('finding 24.5: a request that did not arrive over TLS gets a clear 400, and one warning in the log says how to set TRUST_PROXY', async () => {
      const client = await registerClient(gh);
      const authorize = authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge });
      const auth = await raw(gh, `${authorize.pathname}${authorize.search}`, { headers: { accept: 'text/html' } });
      expect(auth.status).toBe(400);
      expect(auth.headers['content-type']).toMatch(/^text\/html/);
      expect(auth.body).toMatch(/https/);
      const end = await raw(gh, '/session/end', { headers: { accept: 'text/html' } });
      expect(end.status).toBe(400);
      const discovery = await raw(gh, '/.well-known/openid-configuration');
      expect(discovery.status).toBe(400);
      expect(JSON.parse(discovery.body)).toEqual({ error: 'invalid_request', error_description: expect.stringMatching(/https/) });
      const token = await raw(gh, '/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      expect(token.status).toBe(400);
      // Load balancers probe instances directly over http.
      expect((await raw(gh, '/healthz')).status).toBe(200);

      const warnings = gh.logs.filter((line) => line.includes('TRUST_PROXY') && line.includes('"level":40'));
      expect(warnings).toHaveLength(1);
      expect(gh.logs.some((line) => line.includes('Cannot send secure cookie'))).toBe(false);
    });

    test('finding 24.6: HSTS is not sent on plain-http responses', async () => {
      for (const path of ['/healthz', '/.well-known/openid-configuration']) {
        const res = await raw(gh, path);
        expect([path, res.headers['strict-transport-security']]).toEqual([path, undefined]);
      }
    });
  });

  describe('an upper-case ISSUER scheme', () => {
    const gh = useGatehouse(provider, { ISSUER: 'HTTPS://Auth.Example.TEST/', TRUST_PROXY: 'true' });

    test('finding 24.3: keeps Secure cookies and HSTS and a canonical iss', async () => {
      const secure = { 'x-forwarded-proto': 'https' };
      const discovery = await raw(gh, '/.well-known/openid-configuration', { headers: secure });
      expect(discovery.status).toBe(200);
      expect(JSON.parse(discovery.body)).toMatchObject({ issuer: 'https://auth.example.test', token_endpoint: 'https://auth.example.test/token' });
      expect(discovery.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      const end = await raw(gh, '/session/end', { headers: { ...secure, accept: 'text/html' } });
      expect(end.status).toBe(200);
      const cookies = [end.headers['set-cookie'] ?? []].flat();
      expect(cookies.length).toBeGreaterThan(0);
      for (const cookie of cookies) expect(cookie).toMatch(/; secure/i);
    });
  });

  describe('requests through the proxy (TRUST_PROXY on, X-Forwarded-Proto: https)', () => {
    const gh = useGatehouse(provider, { ISSUER: 'https://auth.example.test', TRUST_PROXY: 'true' });

    test('finding 24.5/24.6: are served with https URLs, Secure cookies and HSTS', async () => {
      const secure = { 'x-forwarded-proto': 'https' };
      const discovery = await raw(gh, '/.well-known/openid-configuration', { headers: secure });
      expect(discovery.status).toBe(200);
      expect(discovery.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
      expect(JSON.parse(discovery.body)).toMatchObject({ token_endpoint: 'https://auth.example.test/token', jwks_uri: 'https://auth.example.test/jwks' });
      const end = await raw(gh, '/session/end', { headers: { ...secure, accept: 'text/html' } });
      expect(end.status).toBe(200);
      const cookies = [end.headers['set-cookie'] ?? []].flat();
      expect(cookies.length).toBeGreaterThan(0);
      for (const cookie of cookies) expect(cookie).toMatch(/; secure/i);
      expect(gh.logs.some((line) => line.includes('TRUST_PROXY') && line.includes('"level":40'))).toBe(false);
    });
  });
});
