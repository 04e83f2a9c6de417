// Environment -> validated, typed configuration. The only module that reads process.env.
// A `.env` file in the working directory is read too; real environment variables win over it.
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { parseDurationSeconds } from './util/duration.js';

type Env = Record<string, string | undefined>;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The longest token lifetime accepted anywhere: ID_TOKEN_TTL, ACCESS_TOKEN_TTL and an API's own (src/clients/apis.ts). */
export const MAX_TOKEN_TTL_SECONDS = 86_400;
/** The longest KEY_REFRESH_INTERVAL accepted. */
export const MAX_KEY_REFRESH_INTERVAL_SECONDS = 3600;

const port = z.coerce
  .number({ message: 'must be a number' })
  .int('must be a whole number')
  .min(0, 'must be between 0 and 65535')
  .max(65535, 'must be between 0 and 65535');

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''], { message: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** A duration such as "600", "10m", "1h"; bounded so a typo cannot make a token immortal. */
const duration = (min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const seconds = parseDurationSeconds(text);
    if (seconds === null) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration like 600, 30s, 15m, 12h or 14d' });
      return z.NEVER;
    }
    if (seconds < min || seconds > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${min}s and ${max}s` });
      return z.NEVER;
    }
    return seconds;
  });

const positiveInt = (max: number) =>
  z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').max(max, `must be at most ${max}`);

/** A byte size such as "32768", "32kb" or "32KiB" (1 kb = 1024 bytes). */
const byteSize = (min: number, max: number) =>
  z.string().transform((text, ctx) => {
    const match = /^(\d{1,9})\s*(b|kb|kib)?$/i.exec(text.trim());
    if (!match) {
      ctx.addIssue({ code: 'custom', message: 'must be a size like 32768 or 32kb' });
      return z.NEVER;
    }
    const bytes = Number(match[1]) * (match[2] && match[2].toLowerCase() !== 'b' ? 1024 : 1);
    if (bytes < min || bytes > max) {
      ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max} bytes` });
      return z.NEVER;
    }
    return bytes;
  });

/** Address kinds an outgoing webhook may reach only when WEBHOOK_ALLOW_TARGETS lists them. */
const WEBHOOK_TARGET_KINDS = ['loopback', 'private', 'link-local'] as const;
export type WebhookTargetKind = (typeof WEBHOOK_TARGET_KINDS)[number];

const databaseUrl = z
  .string()
  .min(1, 'must not be empty')
  .refine((url) => /^(file:|postgres(ql)?:\/\/)/.test(url), 'must start with file: (SQLite) or postgresql:// (PostgreSQL)');

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production'], { message: 'must be development, test or production' }).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: port.default(3000),
  ISSUER: z.url({ message: 'must be an absolute http(s) URL' }).optional(),
  ALLOW_HTTP_LOOPBACK_ISSUER: flag.default(false),
  TRUST_PROXY: flag.default(false),
  // How many proxies in front append to X-Forwarded-For: the client address is the one the
  // outermost trusted proxy saw, never a value the client wrote itself.
  TRUST_PROXY_HOPS: positiveInt(10).default(1),
  DATABASE_URL: databaseUrl.default('file:./data/gatehouse.db'),
  // How long a PostgreSQL connection attempt may take before the request fails (503) instead
  // of waiting: bounds the answer time while the database is unreachable.
  DATABASE_CONNECT_TIMEOUT: duration(1, 60).default(3),
  DATA_DIR: z.string().min(1).default('./data'),
  KEY_ENCRYPTION_SECRET: z.string().min(32, 'must be at least 32 characters (use `openssl rand -base64 32`)').optional(),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').optional(),
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9:._-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 : . _ -').default('gatehouse:'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'must be one of fatal, error, warn, info, debug, trace, silent' }).default('info'),
  // Unset: JSON, except readable lines in development on a terminal (src/logger.ts).
  LOG_FORMAT: z.enum(['json', 'pretty'], { message: 'must be json or pretty' }).optional(),
  SWEEP_INTERVAL: duration(1, 86_400).default(60),
  SHUTDOWN_TIMEOUT: duration(1, 300).default(10),
  // Audit events older than this are deleted by the sweeper.
  AUDIT_RETENTION: duration(86_400, 10 * 365 * 86_400).default(90 * 86_400),
  // Declared request bodies above this are refused (413) before they are read. oidc-provider's
  // own parser stops at 56 KiB whatever is declared, hence the upper bound.
  BODY_LIMIT: byteSize(1024, 56 * 1024).default(32 * 1024),
  // Prometheus metrics, on their own port so that they are not served publicly (0: any free port).
  METRICS_PORT: port.default(9464),
  // Lifetimes (RFC 9700 §4.14 for refresh tokens; §2.1.1 for short-lived codes).
  SESSION_TTL: duration(60, 90 * 86_400).default(14 * 86_400),
  INTERACTION_TTL: duration(60, 86_400).default(3600),
  // Upstream identity providers (src/upstream/): how long one request to an upstream may take
  // (discovery, token, userinfo), and how long a person may take at the upstream's pages.
  UPSTREAM_TIMEOUT: duration(1, 60).default(10),
  UPSTREAM_SIGN_IN_TTL: duration(60, 3600).default(600),
  AUTHORIZATION_CODE_TTL: duration(10, 600).default(60),
  ID_TOKEN_TTL: duration(60, MAX_TOKEN_TTL_SECONDS).default(3600),
  ACCESS_TOKEN_TTL: duration(60, MAX_TOKEN_TTL_SECONDS).default(3600),
  REFRESH_TOKEN_IDLE_TTL: duration(1, 365 * 86_400).default(14 * 86_400),
  REFRESH_TOKEN_ABSOLUTE_TTL: duration(1, 365 * 86_400).default(30 * 86_400),
  // How long a rotated refresh token's second use counts as the same client racing itself
  // (refused, grant kept) rather than replay (grant revoked); 0 is strict. src/oidc/refresh-tokens.ts.
  REFRESH_TOKEN_REUSE_GRACE: duration(0, 60).default(5),
  // Brute-force protection for sign-in.
  LOGIN_LOCKOUT_THRESHOLD: positiveInt(100).default(5),
  LOGIN_LOCKOUT_WINDOW: duration(1, 86_400).default(15 * 60),
  LOGIN_LOCKOUT_DURATION: duration(1, 86_400).default(15 * 60),
  // Failed sign-ins allowed per client IP address per window, across all accounts.
  LOGIN_IP_LIMIT: positiveInt(100_000).default(30),
  LOGIN_IP_WINDOW: duration(1, 86_400).default(15 * 60),
  // Second factor (src/mfa): off, optional (people who enrolled a factor must use it), or
  // required (everyone; people without a factor enrol one while signing in).
  MFA: z.enum(['off', 'optional', 'required'], { message: 'must be off, optional or required' }).default('optional'),
  // Device authorization grant (RFC 8628): device code lifetime (§3.2 expires_in), the polling
  // interval told to devices (§3.2 interval), and wrong user codes allowed per window (§5.1).
  DEVICE_CODE_TTL: duration(1, 3600).default(600),
  DEVICE_POLL_INTERVAL: duration(1, 60).default(5),
  DEVICE_CODE_ENTRY_LIMIT: positiveInt(1000).default(5),
  DEVICE_CODE_ENTRY_IP_LIMIT: positiveInt(100_000).default(20),
  DEVICE_CODE_ENTRY_WINDOW: duration(1, 86_400).default(15 * 60),
  // Failed sign-ins allowed for one account from one IP address per window.
  LOGIN_IP_ACCOUNT_LIMIT: positiveInt(100_000).default(10),
  LOGIN_IP_ACCOUNT_WINDOW: duration(1, 86_400).default(15 * 60),
  // Requests of any kind from one IP address per window (health checks excepted).
  REQUEST_IP_LIMIT: positiveInt(1_000_000).default(1000),
  REQUEST_IP_WINDOW: duration(1, 86_400).default(60),
  // Token requests naming one client_id per window (all users of a public client share it).
  TOKEN_CLIENT_LIMIT: positiveInt(1_000_000).default(600),
  TOKEN_CLIENT_WINDOW: duration(1, 86_400).default(60),
  // Introspection requests by one client (a resource server) per window.
  INTROSPECTION_CLIENT_LIMIT: positiveInt(1_000_000).default(1200),
  INTROSPECTION_CLIENT_WINDOW: duration(1, 86_400).default(60),
  // Failed client authentications (token endpoint and introspection) per client and IP address
  // per window: a budget of their own, so a stranger cannot spend a client's budgets above.
  CLIENT_AUTH_FAILURE_LIMIT: positiveInt(100_000).default(20),
  CLIENT_AUTH_FAILURE_WINDOW: duration(1, 86_400).default(15 * 60),
  // Signing-key rotation: a new key is published this long before it signs, so relying
  // parties' JWKS caches learn it first; running servers re-read the key set this often.
  KEY_ACTIVATION_DELAY: duration(0, 30 * 86_400).default(3600),
  KEY_REFRESH_INTERVAL: duration(1, MAX_KEY_REFRESH_INTERVAL_SECONDS).default(30),
  // Per-process cache of client metadata and of successful client-secret checks on the token
  // path: the bound on how late a disabled client or a rotated-away secret is refused (0: off).
  CLIENT_CACHE_TTL: duration(0, 300).default(5),
  // Worker processes `node dist/cluster.js` runs (node:cluster); `node dist/server.js` is one process.
  WEB_CONCURRENCY: positiveInt(64).default(1),
  // Sign-in's argon2id hashes and verifications running at once per process (each holds 19 MiB);
  // more wait their turn. Unset: the cores available to the process (src/accounts/passwords.ts).
  PASSWORD_HASH_CONCURRENCY: positiveInt(64).optional(),
  // Outgoing webhooks and back-channel logout tokens (src/webhooks): the address kinds a target
  // may resolve to besides public ones (server-side request forgery), how long one attempt may
  // take, the first retry delay (doubling up to an hour, with jitter), how long a message is
  // retried, how often the outbox is polled, and the consecutive failures that mark an endpoint failing.
  WEBHOOK_ALLOW_TARGETS: z
    .string()
    .transform((text) => text.split(',').map((part) => part.trim()).filter(Boolean))
    .pipe(z.array(z.enum(WEBHOOK_TARGET_KINDS, { message: `must list some of ${WEBHOOK_TARGET_KINDS.join(', ')}` })))
    .default([]),
  WEBHOOK_TIMEOUT: duration(1, 60).default(10),
  WEBHOOK_RETRY_INITIAL_DELAY: duration(1, 3600).default(30),
  WEBHOOK_RETRY_PERIOD: duration(60, 7 * 86_400).default(86_400),
  WEBHOOK_POLL_INTERVAL: duration(1, 60).default(1),
  WEBHOOK_FAILING_AFTER: positiveInt(1000).default(10),
  // Email delivery (src/mail). Unset outside production: messages are written as .eml files
  // under DATA_DIR and their links logged, so a laptop needs no mail server.
  SMTP_URL: z.string().regex(/^smtps?:\/\/[^\s]+$/, 'must start with smtp:// or smtps://').optional(),
  MAIL_FROM: z.string().min(3).max(320).optional(),
  // Password reset (src/password-reset): on by default wherever mail can be delivered.
  PASSWORD_RESET: flag.optional(),
  PASSWORD_RESET_TTL: duration(60, 86_400).default(30 * 60),
  // Whether a reset also ends the person's sessions and revokes their refresh tokens.
  PASSWORD_RESET_REVOKES_SESSIONS: flag.default(true),
  EMAIL_VERIFICATION_TTL: duration(60, 30 * 86_400).default(86_400),
  // Sign-up (src/sign-up): off, open, or the email domains allowed (comma-separated).
  SIGNUP: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^(off|open|[a-z0-9.-]+\.[a-z0-9-]+(\s*,\s*[a-z0-9.-]+\.[a-z0-9-]+)*)$/, 'must be off, open or a comma-separated list of email domains')
    .default('off'),
  // Emails asked for (reset, verification) per client IP address, and per address, per window.
  MAIL_IP_LIMIT: positiveInt(100_000).default(20),
  MAIL_ACCOUNT_LIMIT: positiveInt(1000).default(3),
  MAIL_WINDOW: duration(1, 86_400).default(3600),
});

/**
 * Every rate limit, by policy name: the name is the limiter's key prefix (in Redis too), the
 * metrics' `policy` label and the audit events' `policy` detail. Account lockout is not here: it
 * is a per-account state with a lock duration of its own (src/sign-in), not a count per window.
 */
export type RateLimitPolicy =
  /** Every request per IP address. */
  | 'request-ip'
  /** Token endpoint per client_id. */
  | 'token-client'
  /** Introspection endpoint per client. */
  | 'introspection-client'
  /** Failed client authentications per client and IP address. */
  | 'client-auth-failure'
  /** Failed sign-ins per IP address, across all accounts. */
  | 'login-ip'
  /** Failed sign-ins per IP address and account. */
  | 'login-ip-account'
  /** Wrong device user codes per client IP address. */
  | 'device-code-ip'
  /** Wrong device user codes per browser session. */
  | 'device-code-session'
  /** Emails asked for (password reset, verification, sign-up) per client IP address. */
  | 'mail-ip'
  /** Emails asked for per address (the hashed email), from anywhere. */
  | 'mail-account';

/** `points` requests per fixed window of `windowSeconds`. */
export type RateLimit = { points: number; windowSeconds: number };

export type GatehouseConfig = {
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  issuer: string;
  trustProxy: boolean;
  /** Proxies whose X-Forwarded-For entries are believed (when trustProxy). */
  trustProxyHops: number;
  database: { url: string; provider: 'sqlite' | 'postgresql'; connectTimeoutSeconds: number };
  dataDir: string;
  /** Absent only outside production: then it is generated once into dataDir. */
  keyEncryptionSecret: string | undefined;
  redisUrl: string | undefined;
  /** Prefix of every Redis key Gatehouse writes (several deployments may share one Redis). */
  redisKeyPrefix: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Unset: decided by where stdout goes (src/logger.ts createStdoutLogger). */
  logFormat: 'json' | 'pretty' | undefined;
  sweepIntervalSeconds: number;
  shutdownTimeoutSeconds: number;
  auditRetentionSeconds: number;
  bodyLimitBytes: number;
  metricsPort: number;
  ttl: {
    session: number;
    interaction: number;
    authorizationCode: number;
    idToken: number;
    accessToken: number;
    refreshTokenIdle: number;
    refreshTokenAbsolute: number;
    refreshTokenReuseGrace: number;
  };
  lockout: { threshold: number; windowSeconds: number; durationSeconds: number };
  /** Second-factor policy (src/mfa/policy.ts). */
  mfa: 'off' | 'optional' | 'required';
  device: {
    codeTtlSeconds: number;
    pollIntervalSeconds: number;
  };
  upstream: { timeoutSeconds: number; signInTtlSeconds: number };
  /** The rate-limit policy table; limiters are built from it in src/http/rate-limit-store.ts. */
  rateLimits: Record<RateLimitPolicy, RateLimit>;
  keys: { activationDelaySeconds: number; refreshIntervalSeconds: number };
  /** How long a client's metadata and a successful secret check are reused (0: not cached). */
  clientCacheTtlSeconds: number;
  /** Workers started by src/cluster.ts. */
  webConcurrency: number;
  /** Password hashes and verifications running at once per process (the rest queue). */
  passwordHashConcurrency: number;
  webhooks: {
    allowTargets: WebhookTargetKind[];
    timeoutSeconds: number;
    retryInitialDelaySeconds: number;
    retryPeriodSeconds: number;
    pollIntervalSeconds: number;
    failingAfter: number;
  };
  mail: {
    /** Unset: messages are written as .eml files under dataDir/mail (never in production). */
    smtpUrl: string | undefined;
    from: string;
  };
  /** Whether mail can be delivered: an SMTP server, or the .eml files outside production. */
  mailAvailable: boolean;
  passwordReset: { enabled: boolean; ttlSeconds: number; revokesSessions: boolean };
  emailVerification: { ttlSeconds: number };
  signUp: { mode: 'off' | 'open' | 'domains'; domains: string[] };
};

/** Every variable the configuration reads (README's table and .env.example list them all). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export type ConfigResult = { ok: true; config: GatehouseConfig } | { ok: false; problems: string[] };

/** Validates an environment. Pure: tests call it with a plain object. */
export function parseConfig(env: Env): ConfigResult {
  // Empty strings mean "unset" (the way `.env.example` leaves optional values blank).
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
    };
  }
  const e = parsed.data;
  const problems: string[] = [];
  // Normalised once, here: the scheme and host lower-cased, a default port and one trailing slash
  // dropped, so `iss`, cookie and HSTS decisions all see one canonical spelling.
  const issuerUrl = new URL(e.ISSUER ?? `http://localhost:${e.PORT}`);
  const issuer = issuerUrl.href.replace(/\/$/, '');
  if (issuerUrl.protocol !== 'https:' && issuerUrl.protocol !== 'http:') problems.push('ISSUER: must be an http(s) URL');
  if (issuerUrl.search || issuerUrl.hash) problems.push('ISSUER: must not have a query or fragment (OpenID Connect Discovery §3)');
  if (issuerUrl.username || issuerUrl.password) problems.push('ISSUER: must not contain a user name or password');
  if (e.NODE_ENV === 'production') {
    const loopback = LOOPBACK_HOSTS.has(issuerUrl.hostname) || issuerUrl.hostname === '[::1]';
    if (issuerUrl.protocol !== 'https:' && !(loopback && e.ALLOW_HTTP_LOOPBACK_ISSUER)) {
      problems.push(
        loopback
          ? 'ISSUER: must be https in production (set ALLOW_HTTP_LOOPBACK_ISSUER=true to allow an http loopback issuer)'
          : 'ISSUER: must be https in production',
      );
    }
    if (!e.KEY_ENCRYPTION_SECRET) {
      problems.push('KEY_ENCRYPTION_SECRET: is required in production (it is never generated there)');
    }
  }
  // Mail features without a mail server in production would tell people a message is on its
  // way that never leaves the machine.
  const mailAvailable = e.SMTP_URL !== undefined || e.NODE_ENV !== 'production';
  if (!mailAvailable && e.PASSWORD_RESET === true) problems.push('PASSWORD_RESET: needs SMTP_URL in production');
  if (!mailAvailable && e.SIGNUP !== 'off') problems.push('SIGNUP: needs SMTP_URL in production (new accounts verify their email)');
  if (e.REFRESH_TOKEN_IDLE_TTL > e.REFRESH_TOKEN_ABSOLUTE_TTL) {
    problems.push('REFRESH_TOKEN_IDLE_TTL: must not exceed REFRESH_TOKEN_ABSOLUTE_TTL');
  }
  if (problems.length) return { ok: false, problems };

  return {
    ok: true,
    config: {
      env: e.NODE_ENV,
      host: e.HOST,
      port: e.PORT,
      issuer,
      trustProxy: e.TRUST_PROXY,
      trustProxyHops: e.TRUST_PROXY_HOPS,
      database: {
        url: e.DATABASE_URL,
        provider: e.DATABASE_URL.startsWith('file:') ? 'sqlite' : 'postgresql',
        connectTimeoutSeconds: e.DATABASE_CONNECT_TIMEOUT,
      },
      dataDir: path.resolve(e.DATA_DIR),
      keyEncryptionSecret: e.KEY_ENCRYPTION_SECRET,
      redisUrl: e.REDIS_URL,
      redisKeyPrefix: e.REDIS_KEY_PREFIX,
      logLevel: e.LOG_LEVEL,
      logFormat: e.LOG_FORMAT,
      sweepIntervalSeconds: e.SWEEP_INTERVAL,
      shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT,
      auditRetentionSeconds: e.AUDIT_RETENTION,
      bodyLimitBytes: e.BODY_LIMIT,
      metricsPort: e.METRICS_PORT,
      ttl: {
        session: e.SESSION_TTL,
        interaction: e.INTERACTION_TTL,
        authorizationCode: e.AUTHORIZATION_CODE_TTL,
        idToken: e.ID_TOKEN_TTL,
        accessToken: e.ACCESS_TOKEN_TTL,
        refreshTokenIdle: e.REFRESH_TOKEN_IDLE_TTL,
        refreshTokenAbsolute: e.REFRESH_TOKEN_ABSOLUTE_TTL,
        refreshTokenReuseGrace: e.REFRESH_TOKEN_REUSE_GRACE,
      },
      lockout: {
        threshold: e.LOGIN_LOCKOUT_THRESHOLD,
        windowSeconds: e.LOGIN_LOCKOUT_WINDOW,
        durationSeconds: e.LOGIN_LOCKOUT_DURATION,
      },
      mfa: e.MFA,
      device: {
        codeTtlSeconds: e.DEVICE_CODE_TTL,
        pollIntervalSeconds: e.DEVICE_POLL_INTERVAL,
      },
      upstream: { timeoutSeconds: e.UPSTREAM_TIMEOUT, signInTtlSeconds: e.UPSTREAM_SIGN_IN_TTL },
      rateLimits: {
        'request-ip': { points: e.REQUEST_IP_LIMIT, windowSeconds: e.REQUEST_IP_WINDOW },
        'token-client': { points: e.TOKEN_CLIENT_LIMIT, windowSeconds: e.TOKEN_CLIENT_WINDOW },
        'introspection-client': { points: e.INTROSPECTION_CLIENT_LIMIT, windowSeconds: e.INTROSPECTION_CLIENT_WINDOW },
        'client-auth-failure': { points: e.CLIENT_AUTH_FAILURE_LIMIT, windowSeconds: e.CLIENT_AUTH_FAILURE_WINDOW },
        'login-ip': { points: e.LOGIN_IP_LIMIT, windowSeconds: e.LOGIN_IP_WINDOW },
        'login-ip-account': { points: e.LOGIN_IP_ACCOUNT_LIMIT, windowSeconds: e.LOGIN_IP_ACCOUNT_WINDOW },
        // One window for both user-code budgets (DEVICE_CODE_ENTRY_WINDOW).
        'device-code-ip': { points: e.DEVICE_CODE_ENTRY_IP_LIMIT, windowSeconds: e.DEVICE_CODE_ENTRY_WINDOW },
        'device-code-session': { points: e.DEVICE_CODE_ENTRY_LIMIT, windowSeconds: e.DEVICE_CODE_ENTRY_WINDOW },
        'mail-ip': { points: e.MAIL_IP_LIMIT, windowSeconds: e.MAIL_WINDOW },
        'mail-account': { points: e.MAIL_ACCOUNT_LIMIT, windowSeconds: e.MAIL_WINDOW },
      },
      keys: { activationDelaySeconds: e.KEY_ACTIVATION_DELAY, refreshIntervalSeconds: e.KEY_REFRESH_INTERVAL },
      clientCacheTtlSeconds: e.CLIENT_CACHE_TTL,
      webConcurrency: e.WEB_CONCURRENCY,
      passwordHashConcurrency: e.PASSWORD_HASH_CONCURRENCY ?? availableParallelism(),
      webhooks: {
        allowTargets: e.WEBHOOK_ALLOW_TARGETS,
        timeoutSeconds: e.WEBHOOK_TIMEOUT,
        retryInitialDelaySeconds: e.WEBHOOK_RETRY_INITIAL_DELAY,
        retryPeriodSeconds: e.WEBHOOK_RETRY_PERIOD,
        pollIntervalSeconds: e.WEBHOOK_POLL_INTERVAL,
        failingAfter: e.WEBHOOK_FAILING_AFTER,
      },
      mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM ?? `Gatehouse <no-reply@${issuerUrl.hostname.replace(/^\[|\]$/g, '')}>` },
      mailAvailable,
      passwordReset: { enabled: e.PASSWORD_RESET ?? mailAvailable, ttlSeconds: e.PASSWORD_RESET_TTL, revokesSessions: e.PASSWORD_RESET_REVOKES_SESSIONS },
      emailVerification: { ttlSeconds: e.EMAIL_VERIFICATION_TTL },
      signUp:
        e.SIGNUP === 'off' || e.SIGNUP === 'open'
          ? { mode: e.SIGNUP, domains: [] }
          : { mode: 'domains', domains: e.SIGNUP.split(',').map((d) => d.trim()) },
    },
  };
}

/** Whether the issuer is https, decided from the parsed URL (never from how it was spelled). */
export function issuerIsHttps(config: Pick<GatehouseConfig, 'issuer'>): boolean {
  return new URL(config.issuer).protocol === 'https:';
}

/** The process environment merged over `.env` (when present in the working directory). */
export function readEnvironment(cwd = process.cwd()): Env {
  const dotenvPath = path.join(cwd, '.env');
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  return { ...fromFile, ...process.env };
}

/**
 * Loads configuration for a process entry point. Invalid configuration ends the process
 * with exit code 1 and one line per bad variable: a server must not start half-configured.
 */
export function loadConfig(env: Env = readEnvironment()): GatehouseConfig {
  const result = parseConfig(env);
  if (result.ok) return result.config;
  process.stderr.write(`Gatehouse cannot start: invalid configuration\n${result.problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
