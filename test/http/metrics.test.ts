// /metrics in Prometheus text format on METRICS_PORT (not the public port): after a sign-in,
// a refresh, a refresh-token replay, client credentials, failed sign-ins up to a lockout and a
// rate-limit refusal, the counters say so.
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import {
  authorizationUrl,
  authorizeAndSignIn,
  exchangeCode,
  expectPage,
  pkcePair,
  registerClient,
  registerUser,
  signIn,
  TestBrowser,
  tokenRequest,
} from '../support/signin.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const ORDERS = 'https://api.example.com/orders';

type Samples = Map<string, number>;

/** `name{a="x",b="y"} value` lines, keyed by name and labels in the order exposed. */
function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

describe.each(PROVIDERS)('metrics on %s', (provider) => {
  const gh = useGatehouse(provider, { LOGIN_LOCKOUT_THRESHOLD: '2', TOKEN_CLIENT_LIMIT: '5', TOKEN_CLIENT_WINDOW: '10m', CLIENT_AUTH_FAILURE_LIMIT: '4' });

  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${gh.metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  test('are served on their own port, not on the public one', async () => {
    expect(gh.metricsPort).not.toBe(Number(new URL(gh.url).port));
    expect((await fetch(`${gh.url}/metrics`, { headers: { accept: 'application/json' } })).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${gh.metricsPort}/other`)).status).toBe(404);
    expect(await scrape()).toMatch(/^# TYPE gatehouse_http_requests_total counter$/m);
  });

  test('count requests, tokens by grant type, login failures, lockouts, rate-limit refusals and refresh reuse', async () => {
    // A person signs in, exchanges the code, refreshes, and the old refresh token comes back.
    const client = await registerClient(gh, { grant_types: ['authorization_code', 'refresh_token'] });
    const user = await registerUser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email, {
      scope: 'openid offline_access',
      // OpenID Connect Core §11: offline_access needs prompt=consent.
      extra: { prompt: 'consent' },
    });
    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    expect(tokens.status).toBe(200);
    const refreshed = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string });
    expect(refreshed.status).toBe(200);
    const replayed = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string });
    expect(replayed.body).toMatchObject({ error: 'invalid_grant' });

    // A service gets a token.
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const service = await createClient(gh.db.prisma, { name: 'svc', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    const serviceAuth = basicAuth(service.client.client_id, service.clientSecret!);
    expect((await postForm(endpoints(gh).token, { grant_type: 'client_credentials' }, { authorization: serviceAuth })).status).toBe(200);

    // Someone guesses another person's password until the account locks, and once more.
    const victim = await registerUser(gh);
    for (let i = 0; i < 3; i++) {
      const browser = new TestBrowser(gh);
      const page = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
      expect(expectPage(await signIn(browser, page, victim.email, `wrong password ${i}`)).status).toBe(400);
    }

    // Someone guesses the service's secret until the token endpoint refuses (the failure budget
    // of that client from this address, src/oidc/client-rate-limits.ts).
    const guesses: number[] = [];
    for (let i = 0; i < 5; i++) {
      guesses.push((await postForm(endpoints(gh).token, { grant_type: 'client_credentials' }, { authorization: basicAuth(service.client.client_id, `guess-${i}`) })).status);
    }
    expect(guesses).toEqual([401, 401, 401, 401, 429]);

    const text = await scrape();
    const samples = parse(text);
    expect(samples.get('gatehouse_tokens_issued_total{grant_type="authorization_code"}')).toBe(1);
    expect(samples.get('gatehouse_tokens_issued_total{grant_type="refresh_token"}')).toBe(1);
    expect(samples.get('gatehouse_tokens_issued_total{grant_type="client_credentials"}')).toBe(1);
    expect(samples.get('gatehouse_refresh_token_reuse_total')).toBe(1);
    expect(samples.get('gatehouse_login_failures_total{reason="wrong_password"}')).toBe(2);
    expect(samples.get('gatehouse_login_failures_total{reason="account_locked"}')).toBe(1);
    expect(samples.get('gatehouse_account_lockouts_total')).toBe(1);
    expect(samples.get('gatehouse_rate_limit_rejections_total{policy="client-auth-failure"}')).toBe(1);
    expect(samples.get('gatehouse_http_requests_total{method="POST",route="token",status="200"}')).toBe(3);
    expect(samples.get('gatehouse_http_requests_total{method="POST",route="token",status="429"}')).toBe(1);
    expect(samples.get('gatehouse_http_requests_total{method="POST",route="/interaction/:uid/login",status="400"}')).toBe(3);
    expect(samples.get('gatehouse_http_request_duration_seconds_count{method="POST",route="token",status="401"}')).toBe(4);
    expect(samples.get('gatehouse_rate_limit_store_shared')).toBe(0);
    // Route labels are names and patterns, never paths with interaction ids in them.
    const interactionPaths = [...text.matchAll(/route="([^"]*)"/g)].map((m) => m[1]).filter((route) => route!.startsWith('/interaction/'));
    expect(new Set(interactionPaths)).toEqual(new Set(['/interaction/:uid', '/interaction/:uid/login', '/interaction/:uid/consent']));
    // Process metrics come along.
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });
});
