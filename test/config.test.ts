// Configuration: zero-config embedded defaults, production rules, and a start-up that
// refuses bad values with a message naming every bad variable.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseConfig } from '../src/config.js';

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
    database: { url: 'file:./data/gatehouse.db', provider: 'sqlite' },
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
