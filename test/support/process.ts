// Gatehouse as a real server process (`node dist/server.js`, built by global setup), for tests
// that need what only a process has: being killed with SIGKILL, several instances sharing one
// database, its own memory figures. Configuration through the environment, as in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, TEST_KEY_ENCRYPTION_SECRET } from './gatehouse.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SERVER_ENTRY = path.join(ROOT, 'dist/server.js');

export type GatehouseProcess = {
  readonly url: string;
  readonly port: number;
  readonly env: Record<string, string>;
  /** stdout and stderr lines so far (JSON log lines). */
  readonly logs: string[];
  pid(): number;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited(): Promise<number | string | null>;
  /** SIGKILL: no shutdown hook runs, in-flight requests are cut. */
  kill9(): Promise<void>;
  /** SIGTERM and wait (graceful shutdown). */
  stop(): Promise<void>;
  /** Starts the process again with the same environment and port. */
  restart(): Promise<void>;
  /** Resident set size of the process in KiB (/proc/<pid>/status VmRSS). */
  rssKiB(): number;
};

export type SpawnOptions = {
  /** Environment on top of the defaults (DATABASE_URL is required). */
  env: Record<string, string>;
  port?: number;
  /** Wait for /healthz (default) or return once the process is spawned. */
  waitReady?: boolean;
};

async function waitForHealth(url: string, child: ChildProcess, logs: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`gatehouse exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${logs.join('\n').slice(-3000)}`);
    }
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gatehouse at ${url} did not become ready:\n${logs.join('\n').slice(-3000)}`);
}

/**
 * Servers start as README's production command and `npm start` run them: with an explicit heap
 * limit. Without one V8 sizes its heap from the machine's memory and lets RSS wander upward long
 * after the live heap is flat, which is not what the soak's memory check is about.
 */
const SERVER_NODE_ARGS = ['--max-old-space-size=512'];

export async function spawnGatehouse(options: SpawnOptions): Promise<GatehouseProcess> {
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const cwd = mkdtempSync(path.join(process.env.GATEHOUSE_TEST_RUN_DIR ?? '/tmp', 'proc-'));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    ISSUER: url,
    METRICS_PORT: '0',
    LOG_LEVEL: 'info',
    DATA_DIR: path.join(cwd, 'data'),
    KEY_ENCRYPTION_SECRET: TEST_KEY_ENCRYPTION_SECRET,
    ...options.env,
  };
  const logs: string[] = [];
  let child!: ChildProcess;
  let exit!: Promise<number | string | null>;

  const start = async (wait: boolean) => {
    child = spawn(process.execPath, [...SERVER_NODE_ARGS, SERVER_ENTRY], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const running = child;
    exit = new Promise((resolve) => running.once('exit', (code, signal) => resolve(code ?? signal)));
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        logs.push(...lines);
      });
    }
    if (wait) await waitForHealth(url, running, logs);
  };
  await start(options.waitReady ?? true);

  const signal = async (sig: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    await exit;
  };
  return {
    url,
    port,
    env,
    logs,
    pid: () => child.pid!,
    exited: () => exit,
    kill9: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    restart: async () => {
      await signal('SIGTERM');
      await start(true);
    },
    rssKiB: () => {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (!match) throw new Error(`no VmRSS for pid ${child.pid}`);
      return Number(match[1]);
    },
  };
}

/** Log lines parsed as JSON (pino), skipping anything else. */
export function jsonLogs(logs: string[]): Record<string, unknown>[] {
  return logs.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}

/**
 * RELIABILITY_SCALE=long (npm run test:reliability) makes durations and request counts larger;
 * `npm test` runs the CI-sized form.
 */
const LONG = process.env.RELIABILITY_SCALE === 'long';
export function scaled(ci: number, long: number): number {
  return LONG ? long : ci;
}
