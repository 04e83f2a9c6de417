// Security headers on every kind of response (no framing, no sniffing, no Referer): JSON, pages,
// redirects, errors of the provider and of our routes, 404, static files, health checks, CORS
// preflights, refusals (413, 429). HSTS only when the issuer is https.
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { CookieJar } from '../support/cookie-jar.js';
import { PROVIDERS } from '../support/databases.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, authorizeAndSignIn, expectRedirect, pkcePair, registerClient, registerUser, TestBrowser } from '../support/signin.js';
import { basicAuth } from '../support/oauth-http.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const ORDERS = 'https://api.example.com/orders';
const APP_ORIGIN = 'https://app.example.com';

type Kind = { kind: string; res: Response };

/**
 * One response of each kind from `gh`, requested at its listening address with `headers`
 * (behind a trusted proxy for the https issuer). Each answers a request a real caller makes.
 */
async function responsesOf(gh: TestGatehouse, headers: Record<string, string>): Promise<Kind[]> {
  const base = gh.url;
  const get = (path: string, extra: Record<string, string> = {}) => fetch(`${base}${path}`, { headers: { ...headers, ...extra }, redirect: 'manual' });
  const post = (path: string, body: string, extra: Record<string, string> = {}) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers, ...extra },
      body,
      redirect: 'manual',
    });

  await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] }).catch(() => undefined);
  const { client: service, clientSecret } = await createClient(gh.db.prisma, {
    name: 'service',
    profile: 'service',
    apis: [{ identifier: ORDERS, scopes: ['orders:read'] }],
    default_api: ORDERS,
  });
  const web = await registerClient(gh, { cors_origins: [APP_ORIGIN] });
  const authorize = new URL(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge }));

  const jar = new CookieJar();
  const toInteraction = await jar.fetch(`${base}${authorize.pathname}${authorize.search}`, { headers: { ...headers, accept: 'text/html' } });
  const interactionPath = new URL(toInteraction.headers.get('location')!, base).pathname;
  const loginPage = await jar.fetch(`${base}${interactionPath}`, { headers: { ...headers, accept: 'text/html' } });

  const limited = { ...headers, 'x-forwarded-for': '192.0.2.99' };
  for (let i = 0; i < 40; i++) await get('/jwks', limited);

  return [
    { kind: 'discovery JSON', res: await get('/.well-known/openid-configuration') },
    { kind: 'JWKS', res: await get('/jwks') },
    { kind: 'token error JSON', res: await post('/token', 'grant_type=client_credentials') },
    { kind: 'token response', res: await post('/token', 'grant_type=client_credentials', { authorization: basicAuth(service.client_id, clientSecret!) }) },
    { kind: 'userinfo 401', res: await get('/me', { authorization: 'Bearer not-a-token', accept: 'application/json' }) },
    { kind: 'authorization redirect', res: toInteraction },
    { kind: 'login page', res: loginPage },
    { kind: 'provider error page', res: await get('/auth?client_id=nobody&response_type=code', { accept: 'text/html' }) },
    { kind: 'our error page', res: await get('/interaction/unknown-interaction', { accept: 'text/html' }) },
    { kind: 'unknown path', res: await get('/no-such-path', { accept: 'application/json' }) },
    { kind: 'static file', res: await get('/static/gatehouse.css') },
    { kind: 'health check', res: await get('/healthz') },
    { kind: 'oversized body (413)', res: await post('/token', `grant_type=client_credentials&pad=${'x'.repeat(40_000)}`) },
    {
      kind: 'CORS preflight',
      res: await fetch(`${base}/token`, { method: 'OPTIONS', headers: { ...headers, origin: APP_ORIGIN, 'access-control-request-method': 'POST' } }),
    },
    {
      kind: 'refused CORS preflight',
      res: await fetch(`${base}/token`, { method: 'OPTIONS', headers: { ...headers, origin: 'https://evil.example', 'access-control-request-method': 'POST' } }),
    },
    { kind: '429 JSON', res: await get('/jwks', limited) },
    { kind: '429 page', res: await get(`${authorize.pathname}${authorize.search}`, { ...limited, accept: 'text/html' }) },
  ];
}

function expectBaseline({ kind, res }: Kind, https: boolean): void {
  const context = `${kind} (${res.status})`;
  const header = (name: string) => [context, res.headers.get(name)];
  expect(header('x-content-type-options')).toEqual([context, 'nosniff']);
  expect(header('referrer-policy')).toEqual([context, 'no-referrer']);
  expect(header('cross-origin-opener-policy')).toEqual([context, 'same-origin']);
  expect(header('x-powered-by')).toEqual([context, null]);
  expect(header('strict-transport-security')).toEqual([context, https ? 'max-age=31536000; includeSubDomains' : null]);
  if (res.headers.get('content-type')?.startsWith('text/html')) {
    const csp = res.headers.get('content-security-policy') ?? '';
    expect([context, csp]).toEqual([context, expect.stringContaining("frame-ancestors 'none'")]);
    expect([context, /script-src [^;]*'unsafe-(inline|eval)'/.test(csp)]).toEqual([context, false]);
    expect(header('x-frame-options')).toEqual([context, 'DENY']);
  }
}

const EXPECTED_STATUSES: Record<string, number> = {
  'discovery JSON': 200,
  JWKS: 200,
  'token error JSON': 400,
  'token response': 200,
  'userinfo 401': 401,
  'authorization redirect': 303,
  'login page': 200,
  'provider error page': 400,
  'our error page': 400,
  'unknown path': 404,
  'static file': 200,
  'health check': 200,
  'oversized body (413)': 413,
  'CORS preflight': 204,
  'refused CORS preflight': 403,
  '429 JSON': 429,
  '429 page': 429,
};

describe.each(PROVIDERS)('security headers on %s', (provider) => {
  describe.each([
    ['an http issuer', false],
    ['an https issuer behind a TLS-terminating proxy', true],
  ])('with %s', (_what, https) => {
    const gh = useGatehouse(provider, {
      TRUST_PROXY: 'true',
      REQUEST_IP_LIMIT: '40',
      ...(https ? { ISSUER: 'https://auth.example.test' } : {}),
    });

    test('every kind of response carries them', async () => {
      const kinds = await responsesOf(gh, https ? { 'x-forwarded-proto': 'https' } : {});
      expect(Object.fromEntries(kinds.map(({ kind, res }) => [kind, res.status]))).toEqual(EXPECTED_STATUSES);
      for (const kind of kinds) expectBaseline(kind, https);
      // The pages a person sees are among them.
      expect(kinds.filter(({ res }) => res.headers.get('content-type')?.startsWith('text/html')).map((k) => k.kind)).toEqual(
        expect.arrayContaining(['login page', 'provider error page', 'our error page', '429 page']),
      );
    });
  });
});

describe('pages and redirects that carry codes', () => {
  const gh = useGatehouse('sqlite');

  test('the redirect with the authorization code and the form_post page send no referrer', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    await authorizeAndSignIn(gh, browser, client, user.email);
    // Signed in and consented: the next authorization goes straight back with a code.
    const landing = expectRedirect(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
    expect(landing.location.searchParams.get('code')).toEqual(expect.any(String));
    expect(landing.headers.get('referrer-policy')).toBe('no-referrer');

    const formPost = await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge, extra: { response_mode: 'form_post' } }));
    if (formPost.kind !== 'page') throw new Error('expected the form_post page');
    expect(formPost.html).toContain('name="code"');
    expect(formPost.headers.get('referrer-policy')).toBe('no-referrer');
    expect(formPost.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});
