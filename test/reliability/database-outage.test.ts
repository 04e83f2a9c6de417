// Database outage (issue 9, item 3): PostgreSQL dies under load (`pg_ctl stop -m immediate`, a
// server of this test's own). While it is down, /readyz fails, protocol endpoints answer 503
// `temporarily_unavailable` with Retry-After (RFC 6749 §5.2) within a bounded time, pages a
// person's browser opens answer a friendly 503 page — never a 500, never internals, never a hang.
// When PostgreSQL accepts connections again the service recovers by itself within 5 s, and
// what was issued before the outage still works.
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { basicAuth, postForm } from '../support/oauth-http.js';
import { introspect, refresh, signInOffline } from '../support/refresh.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { privatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { scaled } from '../support/process.js';
import { TestBrowser, authorizationUrl, expectPage, formWithAction, pkcePair, registerClient, registerUser, type TestClient } from '../support/signin.js';
import { count, loops, newTally, report, sleep, statuses } from './helpers.js';

const ORDERS = 'https://api.example.com/orders';
/** The bound a request may take while the database is down: connect timeout (2 s) plus slack. */
const ANSWER_BOUND_MS = 5_000;
/** Issue 9: recovery within 5 s of PostgreSQL accepting connections again. */
const RECOVERY_BOUND_MS = 5_000;

const INTERNALS = /prisma|ECONNREFUSED|postgres|stack|at .*\.(js|ts):\d+|Connection terminated|P1001|driverAdapter/i;

describe('PostgreSQL outage and recovery', () => {
  let pg: PrivatePostgres;
  let gh: TestGatehouse;
  let service: { id: string; secret: string };
  let device: string;
  let web: TestClient;

  beforeAll(async () => {
    pg = await privatePostgres();
    gh = await startGatehouse('postgresql', {
      DATABASE_CONNECT_TIMEOUT: '2',
      KEY_REFRESH_INTERVAL: '1',
      SWEEP_INTERVAL: '1',
      // The background load must not run into the rate limits: a 429 is not what is under test.
      REQUEST_IP_LIMIT: '1000000',
      TOKEN_CLIENT_LIMIT: '1000000',
      INTROSPECTION_CLIENT_LIMIT: '1000000',
    }, {
      provider: 'postgresql',
      url: pg.url,
      drop: async () => undefined,
    });
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const s = await createClient(gh.db.prisma, { name: 'svc', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    service = { id: s.client.client_id, secret: s.clientSecret! };
    device = (await createClient(gh.db.prisma, { name: 'tv', profile: 'device', scope: ['openid', 'offline_access'] })).client.client_id;
    web = await registerClient(gh);
  }, 120_000);
  afterAll(async () => {
    await gh?.close();
    await pg?.destroy();
  });

  const clientCredentials = () =>
    postForm(`${gh.config.issuer}/token`, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basicAuth(service.id, service.secret) });

  test('under load: 503 temporarily_unavailable while down, recovery within 5 s, earlier grants survive', async () => {
    const user = await registerUser(gh);
    const before = await signInOffline(gh, web, user.email);
    expect((await clientCredentials()).status).toBe(200);
    // A person half-way through signing in: the login page of a live interaction.
    const pending = new TestBrowser(gh);
    const loginPage = expectPage(await pending.get(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge, state: 'p' })));
    const loginForm = formWithAction(loginPage.html, '/login');

    // Bounded background load that runs through the outage: every answer is 200 or 503.
    let stopLoad = false;
    const load = newTally();
    const loadDone = loops(4, () => stopLoad, async () => {
      const started = Date.now();
      const res = await clientCredentials().catch((error: Error) => ({ status: 0, body: { error: error.message }, headers: new Headers() }));
      count(load, res.status);
      if (res.status !== 200 && res.status !== 503) load.failures.push(`${res.status} ${JSON.stringify(res.body)}`);
      if (Date.now() - started > ANSWER_BOUND_MS) load.failures.push(`slow answer: ${Date.now() - started} ms`);
      await sleep(20);
    });
    await sleep(scaled(500, 5_000));

    await pg.stopImmediate();
    const downAt = Date.now();

    const timed = async <T>(what: string, call: () => Promise<T>) => {
      const started = Date.now();
      const result = await call();
      const ms = Date.now() - started;
      latencies.push({ what, ms });
      expect(ms).toBeLessThan(ANSWER_BOUND_MS);
      return result;
    };
    const latencies: { what: string; ms: number }[] = [];
    const expectUnavailableJson = (res: { status: number; body: Record<string, unknown>; headers: Headers }) => {
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.any(String) });
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(JSON.stringify(res.body)).not.toMatch(INTERNALS);
    };

    const ready = await timed('readyz', () => fetch(`${gh.config.issuer}/readyz`));
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable', database: 'unreachable' });
    // Liveness and discovery need no database.
    expect((await fetch(`${gh.config.issuer}/healthz`)).status).toBe(200);
    expect((await fetch(`${gh.config.issuer}/.well-known/openid-configuration`)).status).toBe(200);

    for (let round = 0; round < scaled(2, 10); round++) {
      expectUnavailableJson(await timed('token client_credentials', clientCredentials));
      expectUnavailableJson(await timed('token refresh_token', () => refresh(gh, web, before.refreshToken)));
      expectUnavailableJson(await timed('introspection', () => introspect(gh, web, before.accessToken)));
      expectUnavailableJson(
        await timed('revocation', () =>
          postForm(`${gh.config.issuer}/token/revocation`, { token: 'not-a-token' }, { authorization: basicAuth(web.clientId, web.clientSecret!) }),
        ),
      );
      expectUnavailableJson(await timed('device authorization', () => postForm(`${gh.config.issuer}/device/auth`, { client_id: device, scope: 'openid' })));
      const me = await timed('userinfo', () => fetch(`${gh.config.issuer}/me`, { headers: { authorization: `Bearer ${before.accessToken}`, accept: 'application/json' } }));
      expectUnavailableJson({ status: me.status, body: (await me.json()) as Record<string, unknown>, headers: me.headers });

      // A person's browser: the authorization endpoint and an interaction page answer a page.
      for (const [what, browser, url] of [
        ['authorize', before.browser, authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge, state: 's' }).toString()],
        ['login page', pending, loginPage.url.toString()],
        ['device code entry', before.browser, `${gh.config.issuer}/device`],
      ] as const) {
        const page = await timed(what, () => browser.jar.fetch(url, { headers: { accept: 'text/html' } }));
        const html = await page.text();
        expect({ what, status: page.status }).toEqual({ what, status: 503 });
        expect(page.headers.get('content-type')).toMatch(/text\/html/);
        expect(page.headers.get('retry-after')).toMatch(/^\d+$/);
        expect(html).toMatch(/Temporarily unavailable/);
        expect(html).not.toMatch(INTERNALS);
      }
      // The login form post of that interaction (our own route).
      const login = await timed('login form post', () =>
        pending.jar.fetch(new URL(loginForm.action, gh.config.issuer), {
          method: 'POST',
          headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ ...loginForm.fields, email: user.email, password: 'correct horse battery staple' }).toString(),
        }),
      );
      expect(login.status).toBe(503);
      expect(await login.text()).not.toMatch(INTERNALS);
    }

    await sleep(scaled(200, 10_000));
    await pg.start();
    const upAt = Date.now();
    // Recovery: the first moment both readiness and a token request succeed again.
    let recoveredAt: number | undefined;
    while (Date.now() - upAt < RECOVERY_BOUND_MS + 5_000) {
      const [r, t] = await Promise.all([fetch(`${gh.config.issuer}/readyz`).then((x) => x.status), clientCredentials().then((x) => x.status)]);
      if (r === 200 && t === 200) {
        recoveredAt = Date.now();
        break;
      }
      await sleep(50);
    }
    stopLoad = true;
    await loadDone;

    const recoveryMs = recoveredAt === undefined ? Infinity : recoveredAt - upAt;
    const latency = latencies.reduce((max, l) => Math.max(max, l.ms), 0);
    report('database-outage', {
      down_ms: upAt - downAt,
      load_requests: load.requests,
      load_statuses: statuses(load),
      outage_checks: latencies.length,
      outage_max_answer_ms: latency,
      outage_mean_answer_ms: Math.round(latencies.reduce((sum, l) => sum + l.ms, 0) / latencies.length),
      recovery_ms: recoveryMs,
    });
    expect(load.failures).toEqual([]);
    expect(load.byStatus.get(503)).toBeGreaterThan(0);
    expect(recoveryMs).toBeLessThanOrEqual(RECOVERY_BOUND_MS);

    // What was issued before the outage survived it.
    const rotated = await refresh(gh, web, before.refreshToken);
    expect(rotated.status).toBe(200);
    expect((await introspect(gh, web, rotated.body.access_token as string)).body).toMatchObject({ active: true });
    const page = await before.browser.get(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge, state: 'again' }));
    // The session cookie still identifies the person: no login page, straight back to the client.
    expect(page.kind).toBe('redirect');
    // The interaction interrupted by the outage can be finished.
    const resumed = await pending.submit(loginForm, { email: user.email, password: 'correct horse battery staple' });
    expect(resumed.kind === 'redirect' || (resumed.kind === 'page' && resumed.status === 200)).toBe(true);
  });
});
