// Log format of the server process (src/logger.ts createStdoutLogger): JSON wherever stdout is
// not a terminal, readable lines in development on a terminal, LOG_FORMAT overriding both.
// The format does not depend on the database, so these run on SQLite only.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, TEST_KEY_ENCRYPTION_SECRET } from '../support/gatehouse.js';
import { jsonLogs, SERVER_ENTRY, spawnGatehouse } from '../support/process.js';

jest.setTimeout(120_000);

const READY = /Gatehouse issuer (http:\/\/127\.0\.0\.1:\d+) is ready; discovery at \1\/\.well-known\/openid-configuration/;
/** A pretty line: local time, level, message (src/logger.ts). */
const PRETTY_READY = new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\] INFO: ${READY.source}$`);
 
const ANSI = /\u001b\[[0-9;]*m/g;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string, output: () => string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (check()) return;
    await sleep(100);
  }
  throw new Error(`gave up waiting for ${what}; output so far:\n${output().slice(-3000)}`);
}

describe('server log format', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await freshDatabase('sqlite');
  });

  /** Starts the server with stdout on a pipe, waits for its ready line, stops it; returns its output lines. */
  async function runPiped(env: Record<string, string>): Promise<string[]> {
    const server = await spawnGatehouse({ env: { DATABASE_URL: database.url, ...env } });
    try {
      await until(() => server.logs.some((line) => READY.test(line)), 'the ready line', () => server.logs.join('\n'));
    } finally {
      await server.stop();
    }
    return server.logs.filter((line) => line.trim() !== '');
  }

  test('LOG_FORMAT=pretty: readable lines, the start-up line says where the issuer and discovery are', async () => {
    const lines = await runPiped({ LOG_FORMAT: 'pretty' });
    expect(lines.filter((line) => PRETTY_READY.test(line))).toHaveLength(1);
    expect(jsonLogs(lines)).toEqual([]);
    // Not a terminal: no colour codes in the file or pipe.
    expect(lines.filter((line) => line.includes('\u001b['))).toEqual([]);
  });

  test('LOG_FORMAT=json: one JSON object per line, the start-up line carries issuer and discovery', async () => {
    const lines = await runPiped({ LOG_FORMAT: 'json', NODE_ENV: 'development' });
    expect(jsonLogs(lines)).toHaveLength(lines.length);
    const ready = jsonLogs(lines).filter((entry) => READY.test(String(entry.msg)));
    expect(ready).toHaveLength(1);
    expect(ready[0]).toMatchObject({ level: 30, service: 'gatehouse', discovery: expect.stringMatching(/\/\.well-known\/openid-configuration$/) });
  });

  test('unset, in development, stdout not a terminal (a pipe, a container log): JSON', async () => {
    const lines = await runPiped({ NODE_ENV: 'development' });
    expect(lines.length).toBeGreaterThan(0);
    expect(jsonLogs(lines)).toHaveLength(lines.length);
    expect(jsonLogs(lines).filter((entry) => READY.test(String(entry.msg)))).toHaveLength(1);
  });

  test('unset, in development, stdout a terminal: readable lines', async () => {
    // util-linux `script` gives the server a pseudo-terminal as stdout, as a developer's shell does.
    const port = await freePort();
    const cwd = mkdtempSync(path.join(process.env.GATEHOUSE_TEST_RUN_DIR ?? '/tmp', 'tty-'));
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(port),
      ISSUER: `http://127.0.0.1:${port}`,
      METRICS_PORT: '0',
      DATABASE_URL: database.url,
      DATA_DIR: path.join(cwd, 'data'),
      KEY_ENCRYPTION_SECRET: TEST_KEY_ENCRYPTION_SECRET,
    };
    const child = spawn('script', ['-qfec', `'${process.execPath}' '${SERVER_ENTRY}'`, '/dev/null'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const lines = () => output.replace(ANSI, '').split(/\r?\n/);
    try {
      await until(() => lines().some((line) => READY.test(line)), 'the ready line', () => output);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    expect(lines().filter((line) => PRETTY_READY.test(line))).toHaveLength(1);
    expect(jsonLogs(lines())).toEqual([]);
  });

  afterAll(async () => {
    await database?.drop();
  });
});
