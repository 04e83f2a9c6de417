// A PostgreSQL server of the test's own (initdb + pg_ctl on a spare port, data in a temporary
// directory), which the test may stop and start — never the machine's shared server on 5432.
// PostgreSQL refuses to run as root, so its binaries run as the `postgres` OS user.
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { applyMigrations } from '../../src/db/migrations/migrate.js';
import { freePort } from './gatehouse.js';

const run = promisify(execFile);
const BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export type PrivatePostgres = {
  port: number;
  /** URL of the `gatehouse` database (migrated). */
  url: string;
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate`: the server dies without a clean shutdown, as in a crash. */
  stopImmediate(): Promise<void>;
  /** Stops the server and removes its data directory. */
  destroy(): Promise<void>;
};

async function asPostgres(command: string, args: string[]): Promise<string> {
  const asRoot = process.getuid?.() === 0;
  const { stdout } = asRoot ? await run('runuser', ['-u', 'postgres', '--', path.join(BIN, command), ...args]) : await run(path.join(BIN, command), args);
  return stdout;
}

async function waitForConnections(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function privatePostgres(): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-pg-'));
  const data = path.join(dir, 'data');
  const socketDir = dir;
  if (process.getuid?.() === 0) chownSync(dir, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const admin = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const url = `postgresql://postgres@127.0.0.1:${port}/gatehouse`;
  let running = false;
  const server: PrivatePostgres = {
    port,
    url,
    async start() {
      await asPostgres('pg_ctl', [
        '-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '30',
        '-o', `-p ${port} -k ${socketDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60`,
        'start',
      ]);
      running = true;
      await waitForConnections(admin);
    },
    async stopImmediate() {
      if (!running) return;
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      running = false;
    },
    async destroy() {
      await server.stopImmediate().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await server.start();
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query('CREATE DATABASE gatehouse');
  await client.end();
  await applyMigrations({ provider: 'postgresql', url });
  return server;
}
