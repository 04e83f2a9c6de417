// Database statements per flow: `tsx bench/round-trips.ts [sqlite|postgresql]` (after `npm run
// build`) runs the built server (dist/server.js) in this process with its database driver
// counting every statement it sends (better-sqlite3's prepare, pg's Client#query: on PostgreSQL
// each is one network round trip), then drives each flow of the bench one at a time and reports
// the statements per flow, grouped by their SQL. Counting wraps the drivers' own methods, so the
// server's code is the one that runs in production. BENCH_FLOWS (default 20) flows of each kind.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { rotate, signIn, type Client } from './flows.js';
import { freePort } from '../test/support/free-port.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const kind = process.argv[2] ?? 'sqlite';
if (kind !== 'sqlite' && kind !== 'postgresql') {
  process.stderr.write('usage: tsx bench/round-trips.ts [sqlite|postgresql]\n');
  process.exit(2);
}
const FLOWS = Number(process.env.BENCH_FLOWS ?? '20');
const PG_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const PASSWORD = 'bench passphrase that is long enough';

/** Statements sent since the last reset, by their SQL with literals and placeholders folded. */
const seen = new Map<string, number>();
const record = (sql: string) => {
  const shape = sql.replace(/\s+/g, ' ').replace(/\$\d+|\?/g, '?').replace(/\(\?(, ?\?)*\)/g, '(…)').slice(0, 140);
  seen.set(shape, (seen.get(shape) ?? 0) + 1);
  if (tracing) process.stdout.write(`    sql: ${shape.slice(0, 110)}\n`);
};
// BENCH_TRACE=1: one more flow of each kind with every statement printed as it is sent, beside the
// server's request log lines (LOG_LEVEL=info), to see which request sends what.
const TRACE = process.env.BENCH_TRACE === '1';
let tracing = false;

const require = createRequire(import.meta.url);
if (kind === 'sqlite') {
  type Prepare = (this: unknown, sql: string) => unknown;
  const Database = require('better-sqlite3') as { prototype: { prepare: Prepare } };
  const prepare: Prepare = Database.prototype.prepare;
  Database.prototype.prepare = function (this: unknown, sql: string) {
    record(sql);
    return prepare.call(this, sql);
  };
} else {
  const proto = pg.Client.prototype as unknown as { query: (this: unknown, ...args: unknown[]) => unknown };
  const query = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0] as string | { text?: string };
    record(typeof first === 'string' ? first : (first.text ?? '?'));
    return query.apply(this, args);
  };
}

function runNode(args: string[], env: Record<string, string>): string {
  const result = spawnSync(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

const workDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-round-trips-'));
let dropPg: (() => Promise<void>) | undefined;
let databaseUrl = `file:${path.join(workDir, 'gatehouse.db')}`;
if (kind === 'postgresql') {
  const name = `gatehouse_trips_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  databaseUrl = url.toString();
  dropPg = async () => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  };
}

const port = await freePort();
const issuer = `http://127.0.0.1:${port}`;
const env: Record<string, string> = {
  NODE_ENV: 'production',
  ALLOW_HTTP_LOOPBACK_ISSUER: 'true',
  ISSUER: issuer,
  HOST: '127.0.0.1',
  PORT: String(port),
  METRICS_PORT: '0',
  DATABASE_URL: databaseUrl,
  DATA_DIR: workDir,
  KEY_ENCRYPTION_SECRET: randomBytes(32).toString('base64'),
  LOG_LEVEL: TRACE ? 'info' : 'warn',
  LOGIN_LOCKOUT_THRESHOLD: '100',
};
Object.assign(process.env, env);
try {
  if (kind === 'postgresql') runNode(['dist/db/migrate-cli.js', 'deploy'], env);
  await import(path.join(ROOT, 'dist/server.js'));
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${issuer}/healthz`).then((r) => r.ok).catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const secretsFile = path.join(workDir, 'secrets.json');
  runNode(['dist/cli/main.js', 'seed', path.join(ROOT, 'bench/seed.json'), '--secrets-out', secretsFile], env);
  const secrets = JSON.parse(readFileSync(secretsFile, 'utf8')) as Record<string, string>;
  const web: Client = { clientId: 'bench-web', clientSecret: secrets['bench-web']!, redirectUri: 'http://127.0.0.1:8765/callback' };
  const service: Client = { clientId: 'bench-service', clientSecret: secrets['bench-service']!, redirectUri: '' };
  const basic = (c: Client) => `Basic ${Buffer.from(`${c.clientId}:${c.clientSecret}`).toString('base64')}`;
  const target = { issuer };
  // Batched writes (audit rows) leave after the response: let them go before counting stops.
  const settle = () => new Promise((r) => setTimeout(r, 300));

  const flows: [string, () => Promise<unknown>][] = [
    [
      'client_credentials',
      async () => {
        const res = await fetch(`${issuer}/token`, {
          method: 'POST',
          headers: { authorization: basic(service), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://api.bench.example', scope: 'read' }).toString(),
        });
        if (res.status !== 200) throw new Error(`client credentials: ${res.status} ${await res.text()}`);
      },
    ],
    ['discovery', async () => (await fetch(`${issuer}/.well-known/openid-configuration`)).arrayBuffer()],
    ['jwks', async () => (await fetch(`${issuer}/jwks`)).arrayBuffer()],
    ['sign_in', () => signIn(target, web, 'bench@example.com', PASSWORD)],
  ];
  let chain = await signIn(target, web, 'bench@example.com', PASSWORD);
  flows.push(['refresh_rotation', async () => (chain = await rotate(target, web, chain))]);

  process.stdout.write(`# Database statements per flow on ${kind} (${FLOWS} flows each, after one warm-up flow)\n\n`);
  for (const [name, flow] of flows) {
    await flow();
    await settle();
    seen.clear();
    for (let i = 0; i < FLOWS; i++) await flow();
    await settle();
    const total = [...seen.values()].reduce((a, b) => a + b, 0);
    process.stdout.write(`## ${name}: ${(total / FLOWS).toFixed(2)} statements per flow\n\n`);
    for (const [sql, n] of [...seen].sort((a, b) => b[1] - a[1])) process.stdout.write(`- ${(n / FLOWS).toFixed(2)} × ${sql}\n`);
    process.stdout.write('\n');
    if (TRACE) {
      tracing = true;
      await flow();
      await settle();
      tracing = false;
    }
  }
} finally {
  await dropPg?.().catch(() => undefined);
  rmSync(workDir, { recursive: true, force: true });
}
process.exit(0);
