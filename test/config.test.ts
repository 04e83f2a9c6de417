// Configuration: zero-config embedded defaults, production rules, and a start-up that
// refuses bad values with a message naming every bad variable.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES, parseConfig } from '../src/config.js';

const problemsOf = (env: Record<string, string>) => {
  const result = parseConfig(env);
  if (result.ok) throw new Error('expected configuration to be refused');
  return result.problems;
};

test('zero configuration gives a working embedded setup', () => {
  const result = parseConfig({});
  expect(result.ok).toBe(true);
  if (!result.ok) return;
  expect(result.config).toMatchObject({
    env: 'development',
    port: 3000,
    issuer: 'http://localhost:3000',
    database: { url: 'file:./data/gatehouse.db', provider: 'sqlite', connectTimeoutSeconds: 3 },
    keyEncryptionSecret: undefined,
    trustProxy: false,
    lockout: { threshold: 5, windowSeconds: 900, durationSeconds: 900 },
  });
  expect(result.config.dataDir).toBe(path.resolve('data'));
});

test('every bad variable is named with the reason', () => {
  const problems = problemsOf({ PORT: 'abc', DATABASE_URL: 'mysql://x', SESSION_TTL: 'forever', LOG_LEVEL: 'loud' });
  expect(problems).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^PORT: must be a number/),
      expect.stringMatching(/^DATABASE_URL: must start with file: .* or postgresql:\/\//),
      expect.stringMatching(/^SESSION_TTL: must be a duration/),
      expect.stringMatching(/^LOG_LEVEL: must be one of/),
    ]),
  );
  expect(problems).toHaveLength(4);
});

test('durations accept units and are bounded', () => {
  const result = parseConfig({ AUTHORIZATION_CODE_TTL: '1m', SESSION_TTL: '2d' });
  expect(result.ok && result.config.ttl).toMatchObject({ authorizationCode: 60, session: 172_800 });
  expect(problemsOf({ AUTHORIZATION_CODE_TTL: '1h' })).toEqual(['AUTHORIZATION_CODE_TTL: must be between 10s and 600s']);
});

test('PostgreSQL URLs select the postgresql provider', () => {
  const result = parseConfig({ DATABASE_URL: 'postgresql://u@db:5432/gatehouse' });
  expect(result.ok && result.config.database.provider).toBe('postgresql');
});

describe('production', () => {
  const secret = 'x'.repeat(40);
  test('requires an https issuer and a provided key-encryption secret', () => {
    expect(problemsOf({ NODE_ENV: 'production', ISSUER: 'http://auth.example.com' })).toEqual([
      'ISSUER: must be https in production',
      'KEY_ENCRYPTION_SECRET: is required in production (it is never generated there)',
    ]);
  });
  test('an http loopback issuer needs the explicit flag', () => {
    expect(problemsOf({ NODE_ENV: 'production', ISSUER: 'http://127.0.0.1:3000', KEY_ENCRYPTION_SECRET: secret })[0]).toMatch(/ALLOW_HTTP_LOOPBACK_ISSUER/);
    const allowed = parseConfig({ NODE_ENV: 'production', ISSUER: 'http://127.0.0.1:3000', KEY_ENCRYPTION_SECRET: secret, ALLOW_HTTP_LOOPBACK_ISSUER: 'true' });
    expect(allowed.ok).toBe(true);
  });
  test('https issuer with a secret is accepted', () => {
    const result = parseConfig({ NODE_ENV: 'production', ISSUER: 'https://auth.example.com/', KEY_ENCRYPTION_SECRET: secret });
    expect(result.ok && result.config.issuer).toBe('https://auth.example.com');
  });
  test('finding 24.3: the issuer is normalised once: scheme and host lower-cased, default port and trailing slash dropped', () => {
    for (const [spelled, canonical] of [
      ['HTTPS://Auth.Example.COM/', 'https://auth.example.com'],
      ['https://auth.example.com:443/tenant/', 'https://auth.example.com/tenant'],
      ['Https://auth.example.com:8443', 'https://auth.example.com:8443'],
    ]) {
      const result = parseConfig({ NODE_ENV: 'production', ISSUER: spelled!, KEY_ENCRYPTION_SECRET: secret });
      expect([spelled, result.ok && result.config.issuer]).toEqual([spelled, canonical]);
    }
    expect(problemsOf({ NODE_ENV: 'production', ISSUER: 'HTTP://auth.example.com', KEY_ENCRYPTION_SECRET: secret })).toEqual(['ISSUER: must be https in production']);
    expect(problemsOf({ ISSUER: 'https://user:pw@auth.example.com' })).toEqual(['ISSUER: must not contain a user name or password']);
  });
  test('a short key-encryption secret is refused', () => {
    expect(problemsOf({ KEY_ENCRYPTION_SECRET: 'short' })[0]).toMatch(/^KEY_ENCRYPTION_SECRET: must be at least 32 characters/);
  });
});

test('the server process exits 1 with a message naming PORT when PORT=abc', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, PORT: 'abc' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('PORT: must be a number');
  expect(result.stderr).not.toMatch(/\n\s+at /);
});

describe('API-security hardening settings', () => {
  test('defaults: limits, store, body limit, metrics port, audit retention, proxy hops', () => {
    const result = parseConfig({});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config).toMatchObject({
      redisUrl: undefined,
      redisKeyPrefix: 'gatehouse:',
      trustProxyHops: 1,
      bodyLimitBytes: 32 * 1024,
      metricsPort: 9464,
      auditRetentionSeconds: 90 * 86_400,
      rateLimits: {
        'login-ip': { points: 30, windowSeconds: 900 },
        'login-ip-account': { points: 10, windowSeconds: 900 },
        'request-ip': { points: 1000, windowSeconds: 60 },
        'token-client': { points: 600, windowSeconds: 60 },
        'introspection-client': { points: 1200, windowSeconds: 60 },
        'client-auth-failure': { points: 20, windowSeconds: 900 },
        'device-code-ip': { points: 20, windowSeconds: 900 },
        'device-code-session': { points: 5, windowSeconds: 900 },
      },
    });
  });

  test('limits and windows are read in the LIMIT/WINDOW style; sizes accept kb', () => {
    const result = parseConfig({
      REQUEST_IP_LIMIT: '50',
      REQUEST_IP_WINDOW: '10s',
      TOKEN_CLIENT_LIMIT: '7',
      TOKEN_CLIENT_WINDOW: '1h',
      INTROSPECTION_CLIENT_LIMIT: '9',
      INTROSPECTION_CLIENT_WINDOW: '2m',
      LOGIN_IP_ACCOUNT_LIMIT: '3',
      LOGIN_IP_ACCOUNT_WINDOW: '5m',
      BODY_LIMIT: '16kb',
      METRICS_PORT: '0',
      AUDIT_RETENTION: '365d',
      REDIS_URL: 'redis://cache:6379',
      REDIS_KEY_PREFIX: 'auth-prod:',
      TRUST_PROXY: 'true',
      TRUST_PROXY_HOPS: '2',
    });
    expect(result.ok && result.config).toMatchObject({
      rateLimits: {
        'request-ip': { points: 50, windowSeconds: 10 },
        'token-client': { points: 7, windowSeconds: 3600 },
        'introspection-client': { points: 9, windowSeconds: 120 },
        'login-ip-account': { points: 3, windowSeconds: 300 },
      },
      bodyLimitBytes: 16_384,
      metricsPort: 0,
      auditRetentionSeconds: 365 * 86_400,
      redisUrl: 'redis://cache:6379',
      redisKeyPrefix: 'auth-prod:',
      trustProxy: true,
      trustProxyHops: 2,
    });
  });

  test('bad values are named with the reason', () => {
    expect(
      problemsOf({
        REQUEST_IP_LIMIT: '0',
        TOKEN_CLIENT_WINDOW: 'soon',
        BODY_LIMIT: '1mb',
        AUDIT_RETENTION: '1h',
        REDIS_KEY_PREFIX: 'has space',
        METRICS_PORT: '70000',
        TRUST_PROXY_HOPS: '0',
      }),
    ).toEqual([
      'TRUST_PROXY_HOPS: must be at least 1',
      'REDIS_KEY_PREFIX: must be 1-64 of A-Z a-z 0-9 : . _ -',
      'AUDIT_RETENTION: must be between 86400s and 315360000s',
      'BODY_LIMIT: must be a size like 32768 or 32kb',
      'METRICS_PORT: must be between 0 and 65535',
      'REQUEST_IP_LIMIT: must be at least 1',
      'TOKEN_CLIENT_WINDOW: must be a duration like 600, 30s, 15m, 12h or 14d',
    ]);
    expect(problemsOf({ BODY_LIMIT: '100kb' })).toEqual(['BODY_LIMIT: must be between 1024 and 57344 bytes']);
  });
});

test('LOG_FORMAT is json, pretty or unset (then decided by where stdout goes)', () => {
  const unset = parseConfig({ LOG_FORMAT: '' });
  expect(unset.ok && unset.config.logFormat).toBeUndefined();
  const pretty = parseConfig({ LOG_FORMAT: 'pretty' });
  expect(pretty.ok && pretty.config.logFormat).toBe('pretty');
  expect(problemsOf({ LOG_FORMAT: 'text' })).toEqual(['LOG_FORMAT: must be json or pretty']);
});

test("every variable is documented in README's configuration table and in .env.example", () => {
  const readme = readFileSync('README.md', 'utf8');
  const example = readFileSync('.env.example', 'utf8');
  const undocumented = CONFIG_VARIABLES.filter((name) => !readme.includes(`| \`${name}\` |`));
  const missing = CONFIG_VARIABLES.filter((name) => !new RegExp(`^${name}=`, 'm').test(example));
  expect({ undocumented, missing }).toEqual({ undocumented: [], missing: [] });
  expect(CONFIG_VARIABLES).toEqual(expect.arrayContaining(['REQUEST_IP_LIMIT', 'TOKEN_CLIENT_LIMIT', 'INTROSPECTION_CLIENT_LIMIT', 'LOGIN_IP_ACCOUNT_LIMIT']));
});
