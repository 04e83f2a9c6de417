// Every rate limit trips at its threshold, with RateLimit-* headers on the way and Retry-After on
// the 429, whose body is in the endpoint's own format (a client can act on it). Run with the
// in-memory store and with Redis (the machine's shared Redis, under a key prefix of this run's
// own), each on one of the two databases.
//
// One instance per store: it trusts one proxy hop, so each test speaks from addresses of its own
// (X-Forwarded-For) and the per-address budgets of one test never touch another's.
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import type { Provider } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { deleteRedisKeys, redisKeys, SHARED_REDIS_URL, uniqueRedisPrefix } from '../support/redis.js';
import { auditRows, authorizationUrl, expectPage, PASSWORD, pkcePair, registerClient, registerUser, signIn, TestBrowser, type TestClient } from '../support/signin.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { addressesIn, from } from '../support/addresses.js';

const ORDERS = 'https://api.example.com/orders';
const STORES: ['memory' | 'redis', Provider][] = [
  ['memory', 'sqlite'],
  ['redis', 'postgresql'],
];

/** A documentation address (RFC 5737) no other test in this file uses. */
const newAddress = addressesIn('198.51.100');

function expectHeaders(headers: Headers, limit: number, remaining: number, windowSeconds: number): void {
  expect(headers.get('ratelimit-limit')).toBe(String(limit));
  expect(headers.get('ratelimit-remaining')).toBe(String(remaining));
  const reset = Number(headers.get('ratelimit-reset'));
  expect(reset).toBeGreaterThanOrEqual(1);
  expect(reset).toBeLessThanOrEqual(windowSeconds);
}

function expectRefusal(headers: Headers, limit: number, windowSeconds: number): void {
  expectHeaders(headers, limit, 0, windowSeconds);
  expect(headers.get('retry-after')).toBe(headers.get('ratelimit-reset'));
}

describe.each(STORES)('rate limits with the %s store on %s', (store, provider) => {
  let gh: TestGatehouse;
  let url: ReturnType<typeof endpoints>;
  let service: { id: string; auth: string };
  let other: { id: string; auth: string };
  let webClient: TestClient;
  const prefix = uniqueRedisPrefix();

  beforeAll(async () => {
    gh = await startGatehouse(provider, {
      TRUST_PROXY: 'true',
      REQUEST_IP_LIMIT: '30',
      REQUEST_IP_WINDOW: '10m',
      TOKEN_CLIENT_LIMIT: '3',
      TOKEN_CLIENT_WINDOW: '10m',
      INTROSPECTION_CLIENT_LIMIT: '2',
      INTROSPECTION_CLIENT_WINDOW: '10m',
      LOGIN_IP_LIMIT: '4',
      LOGIN_IP_WINDOW: '10m',
      LOGIN_IP_ACCOUNT_LIMIT: '2',
      LOGIN_IP_ACCOUNT_WINDOW: '10m',
      ...(store === 'redis' ? { REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix } : {}),
    });
    expect(gh.rateLimits.kind).toBe(store);
    url = endpoints(gh);
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const serviceClient = async (name: string) => {
      const { client, clientSecret } = await createClient(gh.db.prisma, {
        name,
        profile: 'service',
        apis: [{ identifier: ORDERS, scopes: ['orders:read'] }],
        default_api: ORDERS,
      });
      return { id: client.client_id, auth: basicAuth(client.client_id, clientSecret!) };
    };
    service = await serviceClient('billing');
    other = await serviceClient('reports');
    webClient = await registerClient(gh);
  });
  afterAll(async () => {
    await gh.close();
    if (store === 'redis') await deleteRedisKeys(SHARED_REDIS_URL, prefix);
  });

  test('every request from one address: RateLimit headers count down, then 429 in each endpoint format', async () => {
    const address = newAddress();
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${gh.url}/.well-known/openid-configuration`, { headers: from(address) });
      expect(res.status).toBe(200);
      expectHeaders(res.headers, 30, 29 - i, 600);
      expect(res.headers.get('retry-after')).toBeNull();
    }
    // A protocol endpoint answers with OAuth error JSON...
    const json = await fetch(`${gh.url}/jwks`, { headers: from(address) });
    expect(json.status).toBe(429);
    expectRefusal(json.headers, 30, 600);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await json.json()).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/^too many requests; retry after \d+ seconds$/) });
    // ...a page a person's browser opens with one of our pages.
    const page = await fetch(authorizationUrl(gh, { client: webClient, codeChallenge: pkcePair().challenge }), { headers: { ...from(address), accept: 'text/html' } });
    expect(page.status).toBe(429);
    expectRefusal(page.headers, 30, 600);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('Too many requests');

    // Other addresses and health checks are not affected.
    expect((await fetch(`${gh.url}/jwks`, { headers: from(newAddress()) })).status).toBe(200);
    expect((await fetch(`${gh.url}/healthz`, { headers: from(address) })).status).toBe(200);
    // One audit event for the address and window, however many refusals.
    const rows = await auditRows(gh, 'rate_limit.exceeded', {});
    const mine = rows.filter((row) => row.ip === address);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ outcome: 'failure', details: { policy: 'request-ip', limit: 30, window_seconds: 600 } });
  });

  test('the token endpoint: per client_id, whatever address the requests come from', async () => {
    const token = (client: { auth: string }) =>
      postForm(url.token, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: client.auth, ...from(newAddress()) });
    for (let i = 0; i < 3; i++) {
      const res = await token(service);
      expect(res.status).toBe(200);
      expectHeaders(res.headers, 3, 2 - i, 600);
    }
    const refused = await token(service);
    expect(refused.status).toBe(429);
    expectRefusal(refused.headers, 3, 600);
    expect(refused.body).toEqual({ error: 'temporarily_unavailable', error_description: expect.stringMatching(/retry after \d+ seconds/) });
    expect(refused.headers.get('cache-control')).toBe('no-store');
    // A wrong secret naming the same client is refused before the secret is even compared.
    const guess = await postForm(url.token, { grant_type: 'client_credentials' }, { authorization: basicAuth(service.id, `ghs_${'x'.repeat(43)}`) });
    expect(guess.status).toBe(429);
    // Another client has its own budget.
    expect((await token(other)).status).toBe(200);

    const [row] = (await auditRows(gh, 'rate_limit.exceeded', { clientId: service.id })).filter((r) => (r.details as Record<string, unknown>).policy === 'token-client');
    expect(row).toMatchObject({ outcome: 'failure', details: { route: 'token', limit: 3 } });
  });

  test('introspection: per client', async () => {
    const issued = await postForm(url.token, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: other.auth, ...from(newAddress()) });
    expect(issued.status).toBe(200);
    const introspect = (client: { auth: string }) => postForm(url.introspection, { token: 'no-such-token' }, { authorization: client.auth, ...from(newAddress()) });
    for (let i = 0; i < 2; i++) {
      const res = await introspect(other);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
      expectHeaders(res.headers, 2, 1 - i, 600);
    }
    const refused = await introspect(other);
    expect(refused.status).toBe(429);
    expectRefusal(refused.headers, 2, 600);
    expect(refused.body.error).toBe('temporarily_unavailable');
    // The token endpoint's budget of the same client is a different one.
    expect((await introspect(service)).status).toBe(200);
  });

  async function loginAttempt(browser: TestBrowser, email: string, password: string) {
    const page = expectPage(await browser.get(authorizationUrl(gh, { client: webClient, codeChallenge: pkcePair().challenge })));
    return expectPage(await signIn(browser, page, email, password));
  }

  test('sign-in: failures per address and account', async () => {
    const address = newAddress();
    const browser = new TestBrowser(gh, from(address));
    const alice = await registerUser(gh);
    const bob = await registerUser(gh);
    for (let i = 0; i < 2; i++) {
      const failed = await loginAttempt(browser, alice.email, 'not the password at all');
      expect(failed.status).toBe(400);
      expectHeaders(failed.headers, 2, 1 - i, 600);
    }
    // Alice's third attempt from this address is refused, even with the right password.
    const refused = await loginAttempt(browser, alice.email, PASSWORD);
    expect(refused.status).toBe(429);
    expectRefusal(refused.headers, 2, 600);
    expect(refused.html).toContain('Too many failed sign-in attempts for this account from your network');
    expect((await gh.db.prisma.user.findUniqueOrThrow({ where: { id: alice.id } })).lastLoginAt).toBeNull();
    // Bob from the same address, and Alice from another one, still get in.
    expect((await loginAttempt(browser, bob.email, PASSWORD)).html).toContain('/consent"');
    expect((await loginAttempt(new TestBrowser(gh, from(newAddress())), alice.email, PASSWORD)).html).toContain('/consent"');
  });

  test('sign-in: failures per address, any accounts', async () => {
    const browser = new TestBrowser(gh, from(newAddress()));
    const user = await registerUser(gh);
    for (let i = 0; i < 4; i++) {
      const failed = await loginAttempt(browser, `unknown-${i}-${user.email}`, 'not the password at all');
      expect(failed.status).toBe(400);
      // The headers describe the policy closest to exhaustion: each new email's own budget
      // (2, one left) until the address's budget (4) runs lower.
      if (i < 3) expectHeaders(failed.headers, 2, 1, 600);
      else expectHeaders(failed.headers, 4, 0, 600);
    }
    const refused = await loginAttempt(browser, user.email, PASSWORD);
    expect(refused.status).toBe(429);
    expectRefusal(refused.headers, 4, 600);
    expect(refused.html).toContain('Too many failed sign-in attempts from your network');
    const failures = await auditRows(gh, 'login.failure', { clientId: webClient.clientId }, 1);
    expect(failures.map((row) => row.details)).toContainEqual({ reason: 'rate_limited', policy: 'login-ip' });
  });

  test('a policy\'s limiter from the table counts in the configured store: refusals, refunds, its Redis key', async () => {
    // LOGIN_IP_ACCOUNT_LIMIT is 2 here; a fresh address is a key no sign-in has spent from.
    const limiter = gh.rateLimits.limiterFor('login-ip-account');
    expect(limiter).toBe(gh.rateLimits.limiterFor('login-ip-account'));
    const key = newAddress();
    const results = [await limiter.consume(key), await limiter.consume(key), await limiter.consume(key)];
    expect(results.map((r) => [r.allowed, r.remaining])).toEqual([
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(results[2]).toMatchObject({ limit: 2, firstRefusal: true });
    expect((await limiter.consume(key)).firstRefusal).toBe(false);
    // Refused attempts count too (4 spent); two refunds leave 2 spent: still refused.
    await limiter.refund(key);
    await limiter.refund(key);
    expect((await limiter.consume(key)).allowed).toBe(false);
    for (let i = 0; i < 2; i++) await limiter.refund(key);
    expect(await limiter.consume(key)).toMatchObject({ allowed: true, remaining: 0 });
    if (store === 'redis') {
      // Counted in Redis, under this deployment's prefix.
      const keys = await redisKeys(SHARED_REDIS_URL, prefix);
      expect(keys.get(`${prefix}rl:login-ip-account:${key}`)).toBe('2');
    }
  });
});
