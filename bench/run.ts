// `npm run bench`: Gatehouse (production mode, built dist/) on SQLite, on PostgreSQL, on
// PostgreSQL with 2 cluster workers, and a bare oidc-provider baseline (1 and 2 workers), all
// driven in one run on one machine; writes bench/results/latest.md and latest.svg.
//
// Environment: BENCH_DURATION (seconds per scenario, default 10), BENCH_WARMUP (seconds, default 1),
// BENCH_CONNECTIONS (default 32), BENCH_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
// BENCH_PROFILE (0 skips the CPU profile), BENCH_ONLY (comma-separated target names, for development),
// BENCH_SCENARIOS (comma-separated scenario names, e.g. `client_credentials,jwks`, for development).
// BENCH_PROFILE_SCENARIO (the scenario profiled on SQLite, default client_credentials),
// BENCH_PROFILE_OUT (a file to keep the raw .cpuprofile in, for a closer look in DevTools).
// A run limited by BENCH_ONLY or BENCH_SCENARIOS writes partial-latest.* instead of latest.*.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';
import { BASELINE_API, BASELINE_CLIENT_ID, BASELINE_EMAIL, BASELINE_REDIRECT_URI } from './baseline-constants.js';
import { deviceFlowDriver, percentile, rotate, runLoops, signIn, type Client, type Target } from './flows.js';
import { summariseProfile } from './profile.js';
import { renderMarkdown, renderSvg, type Measurement, type RunInfo } from './report.js';
import { freePort } from '../test/support/free-port.js';
import { signalProcess, startNodeProcess, waitUntilAnswering } from '../test/support/process.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RESULTS = path.join(ROOT, 'bench/results');
const DURATION = Number(process.env.BENCH_DURATION ?? '10');
const WARMUP = Number(process.env.BENCH_WARMUP ?? '1');
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? '32');
const PG_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const ONLY = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const SCENARIOS = process.env.BENCH_SCENARIOS?.split(',').filter(Boolean);
const PROFILE_SCENARIO = process.env.BENCH_PROFILE_SCENARIO ?? 'client_credentials';
const PASSWORD = 'bench passphrase that is long enough';
const EMAIL = 'bench@example.com';
const API = 'https://api.bench.example';
const runStarted = Date.now();
// One key-encryption secret per run: a target restarted on the same database must decrypt its keys.
const KEY_ENCRYPTION_SECRET = randomBytes(32).toString('base64');

const SCENARIO_NAMES = ['client_credentials', 'discovery', 'jwks', 'introspection', 'introspection_hint', 'introspection_jwt', 'refresh_rotation', 'sign_in', 'device_flow'] as const;
type ScenarioName = (typeof SCENARIO_NAMES)[number];
for (const name of [...(SCENARIOS ?? []), PROFILE_SCENARIO]) {
  if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
    process.stderr.write(`bench: unknown scenario ${name} in BENCH_SCENARIOS (known: ${SCENARIO_NAMES.join(', ')})\n`);
    process.exit(2);
  }
}

// Everything started here is stopped on any exit path (normal end, error, Ctrl-C).
const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void>)[] = [];
function killAll(): void {
  for (const child of children) {
    // Negative pid: the server's whole process group (cluster workers included).
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}, cleaning up\n`);
    killAll();
    void Promise.allSettled(cleanups.map((c) => c())).then(() => process.exit(130));
  });
}
process.on('exit', killAll);

/** Resident memory of a process and its descendants (cluster workers), in bytes. */
function treeRss(pid: number): number {
  let total = 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    total += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const kid of kids ? kids.split(/\s+/) : []) total += treeRss(Number(kid));
    }
  } catch {
    /* the process ended between reads */
  }
  return total;
}

/** The pids of a process and its descendants (cluster workers). */
function processTree(pid: number): number[] {
  const out = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const kid of kids ? kids.split(/\s+/) : []) out.push(...processTree(Number(kid)));
    }
  } catch {
    /* the process ended between reads */
  }
  return out;
}

/** utime + stime in clock ticks from a /proc stat file (fields 14 and 15, counted after the `(comm)`). */
function statTicks(file: string): number {
  try {
    const text = readFileSync(file, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return 0;
  }
}

// USER_HZ: the unit of /proc's CPU times; 100 on every Linux architecture Node.js supports.
const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU time used so far, in ms, by a server: `main` by the main (JavaScript) thread of each of its
 * processes (`/proc/<pid>/task/<pid>/stat`), `total` by all their threads (`/proc/<pid>/stat`:
 * libuv's pool doing signatures and argon2, V8's GC and compiler threads, ...). Cluster mode sums
 * the primary and its workers. Resolution: one clock tick (10 ms), small against a 10 s window.
 */
function cpuMs(pid: number): { main: number; total: number } {
  let main = 0;
  let total = 0;
  for (const p of processTree(pid)) {
    main += statTicks(`/proc/${p}/task/${p}/stat`);
    total += statTicks(`/proc/${p}/stat`);
  }
  const ms = 1000 / CLOCK_TICKS_PER_SECOND;
  return { main: main * ms, total: total * ms };
}

/**
 * CPU used by `work`, from when it calls `start` (at once if it never does: set-up such as the
 * flows' initial sign-ins is left out that way) to its end.
 */
async function withCpu<T>(pid: number, work: (start: () => void) => Promise<T>): Promise<{ result: T; cpuMainMs: number; cpuTotalMs: number }> {
  let before = cpuMs(pid);
  const result = await work(() => (before = cpuMs(pid)));
  const after = cpuMs(pid);
  return { result, cpuMainMs: after.main - before.main, cpuTotalMs: after.total - before.total };
}

type Server = { name: string; issuer: string; pid: number; child: ChildProcess; logFile: string; stop(): Promise<void> };

/**
 * A server of the bench (Gatehouse or the baseline), started by test/support/process.ts with the
 * same heap limit as the tests' servers and README's Production section: without one, V8 sizes
 * its heap from this machine's 24 GiB and lets an idle-looking process grow to ~270 MB under the
 * client-credentials load; with any limit from 96 to 512 MB the same load peaks near 190 MB at the
 * same throughput (measured here). Its own process group, so cleanup reaches cluster workers; its
 * output goes to <name>.log in the work directory. Ready once discovery answers (the baseline has
 * no /healthz).
 */
async function startServer(name: string, issuer: string, args: string[], env: Record<string, string>, logDir: string): Promise<Server> {
  const logFile = path.join(logDir, `${name}.log`);
  const proc = startNodeProcess(args, { cwd: ROOT, env: { ...process.env, ...env }, logFile, processGroup: true });
  const { child } = proc;
  children.add(child);
  child.once('exit', () => children.delete(child));
  await waitUntilAnswering(`${issuer}/.well-known/openid-configuration`, child, {
    name,
    timeoutMs: 60_000,
    logTail: () => `its log (${logFile}):\n${readFileSync(logFile, 'utf8').slice(-2000)}`,
  });
  return { name, issuer, pid: child.pid!, child, logFile, stop: () => signalProcess(proc, 'SIGTERM', 15_000) };
}

function runNode(args: string[], env: Record<string, string>, input?: string): string {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, input, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

type GatehouseTarget = { server: Server; web: Client; service: Client; deviceClientId: string };

async function startGatehouse(name: string, databaseUrl: string, workers: number, workDir: string, extraNodeArgs: string[] = []): Promise<GatehouseTarget> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(workDir, `${name}-data-`));
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    // Production refuses an http issuer unless it is loopback and this documented flag is set:
    // the bench talks to 127.0.0.1 without TLS, as a load balancer terminating TLS would.
    ALLOW_HTTP_LOOPBACK_ISSUER: 'true',
    ISSUER: issuer,
    HOST: '127.0.0.1',
    PORT: String(port),
    METRICS_PORT: '0',
    DATABASE_URL: databaseUrl,
    DATA_DIR: dataDir,
    KEY_ENCRYPTION_SECRET,
    // Every request comes from one address and names one client: the documented per-IP and
    // per-client limits would refuse the load itself, so they are raised (still counted).
    REQUEST_IP_LIMIT: '1000000',
    TOKEN_CLIENT_LIMIT: '1000000',
    INTROSPECTION_CLIENT_LIMIT: '1000000',
    // Likewise the sign-in and device-code-entry limits: 32 concurrent attempts from one address
    // hold more than the default 10 (20) points at once, since a success gives its point back
    // only when it is done.
    // A token request holds a point of the client-and-address failure budget until it is
    // answered (src/oidc/client-rate-limits.ts): 32 connections hold 32 at once, over the default 20.
    CLIENT_AUTH_FAILURE_LIMIT: '100000',
    LOGIN_IP_LIMIT: '100000',
    // Each sign-in reserves a place in its account's failure count until its password is checked
    // (src/accounts/authenticate.ts): 32 loops signing in one account hold 32, over the default 5.
    LOGIN_LOCKOUT_THRESHOLD: '100',
    LOGIN_IP_ACCOUNT_LIMIT: '100000',
    DEVICE_CODE_ENTRY_LIMIT: '1000',
    DEVICE_CODE_ENTRY_IP_LIMIT: '100000',
    DEVICE_POLL_INTERVAL: '1',
    WEB_CONCURRENCY: String(workers),
  };
  if (databaseUrl.startsWith('postgres')) runNode(['dist/db/migrate-cli.js', 'deploy'], env);
  const entry = workers > 1 ? 'dist/cluster.js' : 'dist/server.js';
  const server = await startServer(name, issuer, [...extraNodeArgs, entry], env, workDir);
  const secretsFile = path.join(workDir, `${name}-secrets.json`);
  if (!existsSync(secretsFile)) runNode(['dist/cli/main.js', 'seed', path.join(ROOT, 'bench/seed.json'), '--secrets-out', secretsFile], env);
  const secrets = JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, string>;
  return {
    server,
    web: { clientId: 'bench-web', clientSecret: secrets['bench-web']!, redirectUri: 'http://127.0.0.1:8765/callback' },
    service: { clientId: 'bench-service', clientSecret: secrets['bench-service']!, redirectUri: '' },
    deviceClientId: 'bench-tv',
  };
}

async function startBaseline(name: string, workers: number, workDir: string): Promise<{ server: Server; client: Client }> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  // Same key size as Gatehouse's signing keys (src/keys/signing-keys.ts RSA_MODULUS_BITS).
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const secret = randomBytes(32).toString('base64url');
  const server = await startServer(
    name,
    issuer,
    ['--import', 'tsx', 'bench/baseline-server.ts'],
    {
      NODE_ENV: 'production',
      PORT: String(port),
      BASELINE_CLIENT_SECRET: secret,
      BASELINE_PASSWORD: PASSWORD,
      BASELINE_JWK: JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid: 'baseline' }),
      BASELINE_WORKERS: String(workers),
    },
    workDir,
  );
  return { server, client: { clientId: BASELINE_CLIENT_ID, clientSecret: secret, redirectUri: BASELINE_REDIRECT_URI } };
}

const basicAuth = (c: Client) => `Basic ${Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.clientSecret)}`).toString('base64')}`;

type HttpScenario = { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string };

/** Samples the RSS of the server's process tree every 200 ms while `work` runs; returns the max. */
async function withRss<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; rssMax: number }> {
  let rssMax = treeRss(pid);
  const timer = setInterval(() => (rssMax = Math.max(rssMax, treeRss(pid))), 200);
  try {
    const result = await work();
    return { result, rssMax: Math.max(rssMax, treeRss(pid)) };
  } finally {
    clearInterval(timer);
  }
}

async function cannon(issuer: string, s: HttpScenario, seconds: number) {
  return autocannon({
    url: `${issuer}${s.path}`,
    method: s.method,
    connections: CONNECTIONS,
    duration: seconds,
    headers: s.headers ?? {},
    ...(s.body !== undefined ? { body: s.body } : {}),
  });
}

/**
 * The measured part of the last HTTP scenario, on the monotonic clock in microseconds (the clock
 * V8's CPU profiles use), so the profile summary can leave start-up and set-up out.
 */
let lastLoadWindow: { startUs: number; endUs: number } | undefined;
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function measureHttp(target: string, scenario: ScenarioName, server: Server, s: HttpScenario): Promise<Measurement> {
  // A request that fails before load starts would make the whole scenario meaningless.
  const probe = await fetch(`${server.issuer}${s.path}`, { method: s.method, headers: s.headers ?? {}, ...(s.body !== undefined ? { body: s.body } : {}) });
  const probeText = await probe.text();
  if (!probe.ok) throw new Error(`${target} ${scenario}: probe answered ${probe.status}: ${probeText.slice(0, 300)}`);
  if (WARMUP > 0) await cannon(server.issuer, s, WARMUP);
  const startUs = monotonicUs();
  const {
    result: { result, rssMax },
    cpuMainMs,
    cpuTotalMs,
  } = await withCpu(server.pid, () => withRss(server.pid, () => cannon(server.issuer, s, DURATION)));
  lastLoadWindow = { startUs, endUs: monotonicUs() };
  const m: Measurement = {
    target,
    scenario,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
    requests: result.requests.total,
    rssMb: rssMax / 1024 / 1024,
    cpuMainMs: cpuMainMs / Math.max(1, result.requests.total),
    cpuTotalMs: cpuTotalMs / Math.max(1, result.requests.total),
  };
  // Which statuses the failures had, so a broken scenario says why without reading server logs.
  const statuses = Object.entries(result.statusCodeStats ?? {}).filter(([code]) => !code.startsWith('2'));
  if (statuses.length) m.note = `statuses: ${statuses.map(([code, { count }]) => `${code} × ${count}`).join(', ')}`;
  log(m);
  return m;
}

async function measureLoops<S>(target: string, scenario: ScenarioName, server: Server, init: (i: number) => Promise<S>, step: (s: S) => Promise<S>): Promise<Measurement> {
  if (WARMUP > 0) await runLoops(CONNECTIONS, WARMUP, init, step);
  let startUs = monotonicUs();
  const {
    result: { result, rssMax },
    cpuMainMs,
    cpuTotalMs,
  } = await withCpu(server.pid, (start) =>
    withRss(server.pid, () =>
      // The loops' initial states (sign-ins for refresh chains) are set-up, not the scenario.
      runLoops(CONNECTIONS, DURATION, init, step, () => {
        start();
        startUs = monotonicUs();
      }),
    ),
  );
  lastLoadWindow = { startUs, endUs: monotonicUs() };
  const sorted = result.latenciesMs.sort((a, b) => a - b);
  const m: Measurement = {
    target,
    scenario,
    rps: result.requests / result.durationSeconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors: result.errors,
    requests: result.requests,
    rssMb: rssMax / 1024 / 1024,
    cpuMainMs: cpuMainMs / Math.max(1, result.requests),
    cpuTotalMs: cpuTotalMs / Math.max(1, result.requests),
    ...(result.firstError ? { note: result.firstError.slice(0, 200) } : {}),
  };
  log(m);
  return m;
}

function log(m: Measurement): void {
  process.stdout.write(
    `  ${m.target.padEnd(22)} ${m.scenario.padEnd(19)} ${m.rps.toFixed(0).padStart(7)} req/s  p50 ${m.p50.toFixed(1).padStart(6)} ms  p99 ${m.p99.toFixed(1).padStart(7)} ms  errors ${m.errors}  rss ${m.rssMb.toFixed(0)} MB  cpu/req main ${m.cpuMainMs.toFixed(3)} ms total ${m.cpuTotalMs.toFixed(3)} ms${m.note ? `  (${m.note})` : ''}\n`,
  );
}

type Endpoints = { token: string; introspection: string; jwks: string };
async function endpointsOf(issuer: string): Promise<Endpoints> {
  const d = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
  const rel = (u: string | undefined) => new URL(u!).pathname;
  return { token: rel(d.token_endpoint), introspection: rel(d.introspection_endpoint), jwks: rel(d.jwks_uri) };
}

const FORM = 'application/x-www-form-urlencoded';

/** The scenarios every target runs, in order; `scenarios` picks a subset. */
async function benchTarget(opts: {
  target: string;
  server: Server;
  web: Client;
  service: Client;
  email: string;
  resource: string;
  scope: string;
  deviceClientId?: string;
  scenarios: ScenarioName[];
  introspectToken?: string;
  /** Run `scenarios` even when BENCH_SCENARIOS leaves them out (the profiling target). */
  ignoreFilter?: boolean;
}): Promise<{ measurements: Measurement[]; introspectToken: string }> {
  const { target, server, web, service, scenarios } = opts;
  const t: Target = { issuer: server.issuer };
  const ep = await endpointsOf(server.issuer);
  const out: Measurement[] = [];
  // One refresh token, kept unrotated, is what introspection asks about.
  const introspectToken = opts.introspectToken ?? (await signIn(t, web, opts.email, PASSWORD));
  for (const scenario of scenarios) {
    if (SCENARIOS && !opts.ignoreFilter && !SCENARIOS.includes(scenario)) continue;
    switch (scenario) {
      case 'client_credentials': {
        const body = new URLSearchParams({ grant_type: 'client_credentials', resource: opts.resource, scope: opts.scope }).toString();
        const check = await fetch(`${server.issuer}${ep.token}`, { method: 'POST', headers: { authorization: basicAuth(service), 'content-type': FORM }, body });
        const token = ((await check.json()) as { access_token?: string }).access_token ?? '';
        const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString() || '{}') as { alg?: string };
        if (token.split('.').length !== 3 || header.alg !== 'RS256') throw new Error(`${target}: client credentials did not return an RS256 JWT access token`);
        out.push(await measureHttp(target, scenario, server, { method: 'POST', path: ep.token, headers: { authorization: basicAuth(service), 'content-type': FORM }, body }));
        break;
      }
      case 'discovery':
        out.push(await measureHttp(target, scenario, server, { method: 'GET', path: '/.well-known/openid-configuration' }));
        break;
      case 'jwks':
        out.push(await measureHttp(target, scenario, server, { method: 'GET', path: ep.jwks }));
        break;
      case 'introspection':
      case 'introspection_hint': {
        // Without a hint the value is looked up as every kind of token (RFC 7662 §2.1).
        const body = new URLSearchParams({ token: introspectToken, ...(scenario === 'introspection_hint' ? { token_type_hint: 'refresh_token' } : {}) }).toString();
        const check = (await (await fetch(`${server.issuer}${ep.introspection}`, { method: 'POST', headers: { authorization: basicAuth(web), 'content-type': FORM }, body })).json()) as { active?: boolean };
        if (!check.active) throw new Error(`${target}: the introspected refresh token is not active`);
        out.push(await measureHttp(target, scenario, server, { method: 'POST', path: ep.introspection, headers: { authorization: basicAuth(web), 'content-type': FORM }, body }));
        break;
      }
      case 'introspection_jwt': {
        // A client-credentials JWT access token as an API gateway presents it, with its hint. The
        // bare provider refuses JWTs at introspection, so only Gatehouse runs this one.
        if (!target.startsWith('gatehouse')) break;
        const issued = await fetch(`${server.issuer}${ep.token}`, { method: 'POST', headers: { authorization: basicAuth(service), 'content-type': FORM }, body: new URLSearchParams({ grant_type: 'client_credentials', resource: opts.resource, scope: opts.scope }).toString() });
        const jwt = ((await issued.json()) as { access_token?: string }).access_token ?? '';
        const body = new URLSearchParams({ token: jwt, token_type_hint: 'access_token' }).toString();
        const check = (await (await fetch(`${server.issuer}${ep.introspection}`, { method: 'POST', headers: { authorization: basicAuth(service), 'content-type': FORM }, body })).json()) as { active?: boolean };
        if (!check.active) throw new Error(`${target}: the introspected JWT access token is not active`);
        out.push(await measureHttp(target, scenario, server, { method: 'POST', path: ep.introspection, headers: { authorization: basicAuth(service), 'content-type': FORM }, body }));
        break;
      }
      case 'refresh_rotation':
        // Each connection owns a rotation chain: every request presents a fresh refresh token.
        out.push(await measureLoops(target, scenario, server, () => signIn(t, web, opts.email, PASSWORD), (token) => rotate(t, web, token)));
        break;
      case 'sign_in':
        out.push(
          await measureLoops(target, scenario, server, async () => undefined, async () => {
            await signIn(t, web, opts.email, PASSWORD);
            return undefined;
          }),
        );
        break;
      case 'device_flow': {
        if (!opts.deviceClientId) break;
        const id = opts.deviceClientId;
        out.push(await measureLoops(target, scenario, server, async () => deviceFlowDriver(t, id, opts.email, PASSWORD), async (flow) => (await flow(), flow)));
        break;
      }
    }
  }
  return { measurements: out, introspectToken };
}

async function createPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(`PostgreSQL is unreachable at ${PG_ADMIN_URL.replace(/:[^:@/]*@/, ':***@')} (${(error as Error).message}); start it or set BENCH_PG_ADMIN_URL`, {
      cause: error,
    });
  }
  const name = `gatehouse_bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
  cleanups.push(drop);
  return { url: url.toString(), drop };
}

async function main(): Promise<void> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-'));
  cleanups.push(async () => rmSync(workDir, { recursive: true, force: true }));
  const wanted = (name: string) => !ONLY || ONLY.includes(name);
  const all: Measurement[] = [];
  const single: ScenarioName[] = [...SCENARIO_NAMES];
  // The 2-worker targets run the stateless-or-shared-storage scenarios the scaling targets name.
  const scaling: ScenarioName[] = ['client_credentials', 'discovery', 'introspection'];
  let profileSummary: string | undefined;

  // Fail early and clearly when PostgreSQL is missing, before minutes of work.
  const needsPg = wanted('gatehouse-postgresql') || wanted('gatehouse-postgresql-2w');
  const pgCheck = needsPg ? await createPgDatabase() : undefined;

  process.stdout.write(`bench: ${DURATION} s per scenario after ${WARMUP} s warm-up, ${CONNECTIONS} connections; logs in ${workDir}\n`);
  try {
    if (wanted('baseline')) {
      const b = await startBaseline('baseline', 1, workDir);
      const r = await benchTarget({ target: 'baseline', server: b.server, web: b.client, service: b.client, email: BASELINE_EMAIL, resource: BASELINE_API, scope: 'read', scenarios: single });
      all.push(...r.measurements);
      await b.server.stop();
    }
    if (wanted('gatehouse-sqlite')) {
      const g = await startGatehouse('gatehouse-sqlite', `file:${path.join(workDir, 'sqlite', 'gatehouse.db')}`, 1, workDir);
      const r = await benchTarget({ target: 'gatehouse-sqlite', server: g.server, web: g.web, service: g.service, email: EMAIL, resource: API, scope: 'read', deviceClientId: g.deviceClientId, scenarios: single });
      all.push(...r.measurements);
      await g.server.stop();
    }
    if (pgCheck && (wanted('gatehouse-postgresql') || wanted('gatehouse-postgresql-2w'))) {
      let introspectToken: string | undefined;
      if (wanted('gatehouse-postgresql')) {
        const g = await startGatehouse('gatehouse-postgresql', pgCheck.url, 1, workDir);
        const r = await benchTarget({ target: 'gatehouse-postgresql', server: g.server, web: g.web, service: g.service, email: EMAIL, resource: API, scope: 'read', deviceClientId: g.deviceClientId, scenarios: single });
        all.push(...r.measurements);
        introspectToken = r.introspectToken;
        await g.server.stop();
      }
      if (wanted('gatehouse-postgresql-2w')) {
        if (!existsSync(path.join(ROOT, 'dist/cluster.js'))) throw new Error('dist/cluster.js is missing: cluster mode is not built');
        const g = await startGatehouse('gatehouse-postgresql', pgCheck.url, 2, workDir);
        const r = await benchTarget({ target: 'gatehouse-postgresql-2w', server: g.server, web: g.web, service: g.service, email: EMAIL, resource: API, scope: 'read', scenarios: scaling, ...(introspectToken ? { introspectToken } : {}) });
        all.push(...r.measurements);
        await g.server.stop();
      }
    }
    if (wanted('baseline-2w')) {
      // In-memory storage is per worker: only the stateless scenarios mean anything here.
      const b = await startBaseline('baseline-2w', 2, workDir);
      const r = await benchTarget({ target: 'baseline-2w', server: b.server, web: b.client, service: b.client, email: BASELINE_EMAIL, resource: BASELINE_API, scope: 'read', scenarios: ['client_credentials', 'discovery'], introspectToken: 'unused' });
      all.push(...r.measurements);
      await b.server.stop();
    }
    if (process.env.BENCH_PROFILE !== '0' && wanted('profile')) {
      const profDir = path.join(workDir, 'profile');
      mkdirSync(profDir);
      const g = await startGatehouse('gatehouse-sqlite-profile', `file:${path.join(workDir, 'sqlite-profile', 'gatehouse.db')}`, 1, workDir, ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
      process.stdout.write(`profiling ${PROFILE_SCENARIO} on SQLite (node --cpu-prof)\n`);
      await benchTarget({
        target: 'profile',
        server: g.server,
        web: g.web,
        service: g.service,
        email: EMAIL,
        resource: API,
        scope: 'read',
        deviceClientId: g.deviceClientId,
        scenarios: [PROFILE_SCENARIO as ScenarioName],
        ignoreFilter: true,
      });
      await g.server.stop();
      const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
      if (file && process.env.BENCH_PROFILE_OUT) copyFileSync(path.join(profDir, file), process.env.BENCH_PROFILE_OUT);
      if (file) profileSummary = summariseProfile(readFileSync(path.join(profDir, file), 'utf8'), ROOT, lastLoadWindow, PROFILE_SCENARIO);
    }
  } finally {
    killAll();
    await Promise.allSettled(cleanups.map((c) => c()));
  }

  const info: RunInfo = {
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    node: process.version,
    durationSeconds: DURATION,
    warmupSeconds: WARMUP,
    connections: CONNECTIONS,
    totalSeconds: (Date.now() - runStarted) / 1000,
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim(),
  };
  mkdirSync(RESULTS, { recursive: true });
  // A partial run (BENCH_ONLY) never replaces the committed full results.
  const prefix = ONLY || SCENARIOS ? 'partial-' : '';
  const md = renderMarkdown(all, info, profileSummary);
  const svg = renderSvg(all);
  writeFileSync(path.join(RESULTS, `${prefix}latest.md`), md);
  writeFileSync(path.join(RESULTS, `${prefix}latest.svg`), svg);
  if (profileSummary) writeFileSync(path.join(RESULTS, `${prefix}profile-latest.md`), profileSummary);
  process.stdout.write(`\nwrote bench/results/${prefix}latest.md, ${prefix}latest.svg${profileSummary ? `, ${prefix}profile-latest.md` : ''}; total ${info.totalSeconds.toFixed(0)} s\n`);
}

main().catch(async (error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).message}\n`);
  killAll();
  await Promise.allSettled(cleanups.map((c) => c()));
  process.exit(1);
});
