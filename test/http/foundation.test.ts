// A real Gatehouse on an ephemeral port answers discovery, JWKS, health and readiness.
import { PROVIDERS } from '../support/databases.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('issuer on %s', (provider) => {
  const gh = useGatehouse(provider);

  test('discovery names the issuer, RS256 and S256-only PKCE, code-only', async () => {
    const res = await fetch(`${gh.url}/.well-known/openid-configuration`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.issuer).toBe(gh.config.issuer);
    expect(body.jwks_uri).toBe(`${gh.config.issuer}/jwks`);
    expect(body.id_token_signing_alg_values_supported).toEqual(['RS256']);
    expect(body.code_challenge_methods_supported).toEqual(['S256']);
    expect(body.response_types_supported).toEqual(['code']);
    expect(body.authorization_response_iss_parameter_supported).toBe(true);
  });

  test('JWKS has one RSA signing key with a kid and public members only', async () => {
    const res = await fetch(`${gh.url}/jwks`);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    const [key] = keys;
    expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(typeof key!.kid).toBe('string');
    expect(Buffer.from(key!.n as string, 'base64url').length * 8).toBeGreaterThanOrEqual(2048);
    for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(privateMember);
  });

  test('/healthz and /readyz answer', async () => {
    const health = await fetch(`${gh.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${gh.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', database: 'ok' });
  });

  test('responses carry a request id and baseline security headers', async () => {
    const res = await fetch(`${gh.url}/.well-known/openid-configuration`);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  test('request logs are JSON with the request id and never the query string', async () => {
    const res = await fetch(`${gh.url}/healthz?code=secret-code-value`);
    const requestId = res.headers.get('x-request-id');
    const line = gh.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.reqId === requestId);
    expect(line).toMatchObject({ msg: 'request', path: '/healthz', status: 200 });
    expect(gh.logs.join('')).not.toContain('secret-code-value');
  });

  test('an unknown path is a 404 from the provider, not a stack trace', async () => {
    const res = await fetch(`${gh.url}/nope`, { headers: { accept: 'application/json' } });
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(text).not.toMatch(/at .*\.js:\d+/);
  });
});
