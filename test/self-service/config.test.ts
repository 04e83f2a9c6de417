// Self-service configuration: mail delivery, password reset, email verification, sign-up.
// Production refuses mail features without SMTP_URL (a message promised would never leave the
// machine); elsewhere messages go to .eml files under DATA_DIR.
import { spawnSync } from 'node:child_process';
import { parseConfig } from '../../src/config.js';

const SECRET = 'x'.repeat(32);
const PRODUCTION = { NODE_ENV: 'production', ISSUER: 'https://auth.example.com', KEY_ENCRYPTION_SECRET: SECRET };

const problemsOf = (env: Record<string, string>) => {
  const result = parseConfig(env);
  if (result.ok) throw new Error('expected configuration to be refused');
  return result.problems;
};
const configOf = (env: Record<string, string>) => {
  const result = parseConfig(env);
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config;
};

test('defaults: mail to .eml files, password reset on, sign-up off, 30-minute reset links', () => {
  expect(configOf({})).toMatchObject({
    mail: { smtpUrl: undefined, from: 'Gatehouse <no-reply@localhost>' },
    mailAvailable: true,
    passwordReset: { enabled: true, ttlSeconds: 1800, revokesSessions: true },
    emailVerification: { ttlSeconds: 86_400 },
    signUp: { mode: 'off', domains: [] },
    rateLimits: { 'mail-ip': { points: 20, windowSeconds: 3600 }, 'mail-account': { points: 3, windowSeconds: 3600 } },
  });
});

test('SIGNUP is off, open, or a list of domains (lower-cased); anything else is refused', () => {
  expect(configOf({ SIGNUP: 'open' }).signUp).toEqual({ mode: 'open', domains: [] });
  expect(configOf({ SIGNUP: ' Example.com,b.example.org ' }).signUp).toEqual({ mode: 'domains', domains: ['example.com', 'b.example.org'] });
  expect(problemsOf({ SIGNUP: 'yes please' })[0]).toMatch(/^SIGNUP: must be off, open or a comma-separated list of email domains/);
});

test('SMTP_URL is smtp:// or smtps://; the reset lifetime is bounded', () => {
  expect(configOf({ SMTP_URL: 'smtps://user:pass@mail.example.com:465', MAIL_FROM: 'Auth <auth@example.com>' }).mail).toEqual({
    smtpUrl: 'smtps://user:pass@mail.example.com:465',
    from: 'Auth <auth@example.com>',
  });
  expect(problemsOf({ SMTP_URL: 'http://mail.example.com' })).toEqual(['SMTP_URL: must start with smtp:// or smtps://']);
  expect(problemsOf({ PASSWORD_RESET_TTL: '2d' })).toEqual(['PASSWORD_RESET_TTL: must be between 60s and 86400s']);
});

test('production: without SMTP_URL the mail features are off, and asking for them is refused', () => {
  expect(configOf(PRODUCTION)).toMatchObject({ mailAvailable: false, passwordReset: { enabled: false }, signUp: { mode: 'off' } });
  expect(problemsOf({ ...PRODUCTION, PASSWORD_RESET: 'true', SIGNUP: 'open' })).toEqual([
    'PASSWORD_RESET: needs SMTP_URL in production',
    'SIGNUP: needs SMTP_URL in production (new accounts verify their email)',
  ]);
  expect(configOf({ ...PRODUCTION, SMTP_URL: 'smtp://mail.example.com:587', SIGNUP: 'open' })).toMatchObject({ mailAvailable: true, passwordReset: { enabled: true } });
});

test('the production server refuses to start with SIGNUP=open and no SMTP_URL', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { PATH: process.env.PATH, ...PRODUCTION, SIGNUP: 'open' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('SIGNUP: needs SMTP_URL in production');
});
