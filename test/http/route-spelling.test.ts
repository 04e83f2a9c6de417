// oidc-provider's router folds case and accepts one trailing slash, so `/DEVICE` and `/device/`
// run the same route as `/device`. Every guard in front of the provider decides by path; here
// every guarded path is sent in its canonical, upper-case and trailing-slash spellings, and only
// the canonical one may reach the provider (src/http/provider-routes.ts).
import { randomInt } from 'node:crypto';
import { createClient } from '../../src/clients/registry.js';
import { PROVIDERS, type Provider } from '../support/databases.js';
import { freePort, startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { TestBrowser, expectPage, formWithAction } from '../support/signin.js';
import { registerDeviceClient, startDeviceAuthorization, textOf } from '../support/device-flow.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
function unknownCode(): string {
  const letters = Array.from({ length: 8 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

/** Spellings oidc-provider's router runs as the canonical path. */
const misspellings = (path: string): string[] => [path.toUpperCase(), `${path}/`, `${path.toUpperCase()}/`];

const APP_ORIGIN = 'https://app.example.com';
const EVIL_ORIGIN = 'https://evil.example.com';

/** Every route in front of which Gatehouse decides something by path. */
const CORS_PATHS = ['/token', '/me', '/token/introspection', '/token/revocation', '/device/auth', '/request'];

describe.each(PROVIDERS)('route spellings on %s', (provider: Provider) => {
  describe('device code entry', () => {
    let gh: TestGatehouse | undefined;
    afterEach(async () => {
      await gh?.close();
      gh = undefined;
    });

    test('finding 15.2: the wrong-code budget cannot be bypassed by spelling /device as /DEVICE or /device/', async () => {
      gh = await startGatehouse(provider, { DEVICE_CODE_ENTRY_LIMIT: '2', DEVICE_CODE_ENTRY_IP_LIMIT: '100' });
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      const browser = new TestBrowser(gh);
      const entryForm = async () => formWithAction(expectPage(await browser.get(`${gh!.config.issuer}/device`)).html, '/device');

      // A wrong code under another spelling is not looked up at all.
      for (const path of misspellings('/device')) {
        const page = expectPage(await browser.post(path, { ...(await entryForm()).fields, user_code: unknownCode() }));
        expect({ path, status: page.status }).toEqual({ path, status: 404 });
        expect(textOf(page.html)).not.toContain('That code is not valid.');
      }

      // The session's budget of 2 is spent under the canonical spelling...
      for (let i = 0; i < 2; i++) {
        const page = expectPage(await browser.post('/device', { ...(await entryForm()).fields, user_code: unknownCode() }));
        expect(page.status).toBe(400);
      }
      // ... and no spelling lets even the right code through now.
      const canonical = expectPage(await browser.post('/device', { ...(await entryForm()).fields, user_code: authorization.user_code }));
      expect(canonical.status).toBe(429);
      for (const path of misspellings('/device')) {
        const page = expectPage(await browser.post(path, { ...(await entryForm()).fields, user_code: authorization.user_code }));
        expect({ path, status: page.status }).toEqual({ path, status: 404 });
        expect(page.url.pathname).not.toMatch(/^\/interaction\//);
      }
      // Only the two counted entries were looked up and found wrong.
      expect(await gh.db.prisma.auditEvent.count({ where: { type: 'device.code_invalid' } })).toBe(3);
    });

    test('finding 15.2: verification_uri_complete under another spelling does not reach the provider', async () => {
      gh = await startGatehouse(provider);
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      for (const path of misspellings('/device')) {
        const res = await fetch(`${gh.config.issuer}${path}?user_code=${authorization.user_code}`, { headers: { accept: 'text/html' } });
        const html = await res.text();
        expect({ path, status: res.status }).toEqual({ path, status: 404 });
        expect(html).not.toMatch(/<script/i);
      }
    });
  });

  test('finding 15.2: under an issuer with a path, only the canonical spelling below that path reaches the provider', async () => {
    const port = await freePort();
    const gh = await startGatehouse(provider, { PORT: String(port), ISSUER: `http://127.0.0.1:${port}/oidc` });
    try {
      expect((await fetch(`${gh.url}/oidc/jwks`)).status).toBe(200);
      for (const spelled of ['/oidc/JWKS', '/oidc/jwks/', '/OIDC/jwks', '/oidc/Jwks/']) {
        const res = await fetch(`${gh.url}${spelled}`, { headers: { accept: 'application/json' } });
        expect({ spelled, status: res.status }).toEqual({ spelled, status: 404 });
      }
    } finally {
      await gh.close();
    }
  });

  describe('CORS and every other provider route', () => {
    const gh = useGatehouse(provider);
    beforeAll(async () => {
      await createClient(gh.db.prisma, { name: 'spa', profile: 'spa', redirect_uris: [`${APP_ORIGIN}/cb`], cors_origins: [APP_ORIGIN] });
    });

    const preflight = (path: string, origin: string) =>
      fetch(`${gh.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });

    test.each(CORS_PATHS)('finding 15.2: a preflight to %s from an origin no client registered is refused in every spelling', async (path) => {
      const canonical = await preflight(path, EVIL_ORIGIN);
      expect(canonical.status).toBe(403);
      expect(canonical.headers.get('access-control-allow-origin')).toBeNull();
      for (const spelled of misspellings(path)) {
        const res = await preflight(spelled, EVIL_ORIGIN);
        expect({ spelled, status: res.status, allowOrigin: res.headers.get('access-control-allow-origin') }).toEqual({ spelled, status: 404, allowOrigin: null });
      }
      // A registered origin still gets its canonical preflight answered.
      const allowed = await preflight(path, APP_ORIGIN);
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
    });

    test('finding 15.2: no spelling of the token endpoint answers a request without Origin with a wildcard', async () => {
      for (const path of ['/token', ...misspellings('/token')]) {
        const res = await fetch(`${gh.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: 'grant_type=client_credentials&client_id=nobody&client_secret=x',
        });
        expect({ path, allowOrigin: res.headers.get('access-control-allow-origin') }).toEqual({ path, allowOrigin: null });
        expect((await res.json())).toMatchObject({ error: expect.any(String) });
      }
    });

    test('finding 15.2: a refused spelling is labelled in metrics by the route it spells, never by its path', async () => {
      for (const spelled of misspellings('/jwks')) expect((await fetch(`${gh.url}${spelled}`)).status).toBe(404);
      const text = await (await fetch(`http://127.0.0.1:${gh.metricsPort}/metrics`)).text();
      expect(text).toContain('gatehouse_http_requests_total{method="GET",route="jwks",status="404"} 3');
      expect(text).not.toMatch(/route="[^"]*(JWKS|\/jwks)/);
    });

    test.each([
      ['/token', 'oauth', 'POST'],
      ['/token/introspection', 'oauth', 'POST'],
      ['/token/revocation', 'oauth', 'POST'],
      ['/me', 'oauth', 'GET'],
      ['/jwks', 'oauth', 'GET'],
      ['/.well-known/openid-configuration', 'oauth', 'GET'],
      ['/request', 'oauth', 'POST'],
      ['/device/auth', 'oauth', 'POST'],
      ['/auth', 'page', 'GET'],
      ['/auth/some-uid', 'page', 'GET'],
      ['/device', 'page', 'GET'],
      ['/device/some-uid', 'page', 'GET'],
      ['/session/end', 'page', 'GET'],
      ['/session/end/confirm', 'page', 'POST'],
    ])('finding 15.2: %s under another spelling is refused with 404 in its own format', async (path, format, canonicalMethod) => {
      for (const spelled of misspellings(path)) {
        for (const method of ['GET', 'POST']) {
          const res = await fetch(`${gh.url}${spelled}`, {
            method,
            headers: { accept: format === 'page' ? 'text/html' : 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
            ...(method === 'POST' ? { body: 'a=b' } : {}),
          });
          const text = await res.text();
          expect({ spelled, method, status: res.status }).toEqual({ spelled, method, status: 404 });
          if (format === 'oauth') expect(JSON.parse(text)).toMatchObject({ error: 'invalid_request' });
          else expect(text).toContain('<h1>');
        }
      }
      // The canonical spelling is still served (whatever it answers, it is not "no such endpoint").
      const canonical = await fetch(`${gh.url}${path}`, {
        method: canonicalMethod,
        headers: { accept: format === 'page' ? 'text/html' : 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        ...(canonicalMethod === 'POST' ? { body: 'a=b' } : {}),
      });
      expect(canonical.status).not.toBe(404);
    });
  });
});
