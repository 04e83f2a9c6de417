// Gatehouse as a real server process (`node dist/server.js`, built by global setup), for tests
// that need what only a process has: being killed with SIGKILL, several instances sharing one
// database, its own memory figures. Configuration through the environment, as in production.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';
import { TEST_KEY_ENCRYPTION_SECRET } from './key-secret.js';

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

export type ReadyOptions = {
  /** Names the process in errors. */
  name: string;
  timeoutMs: number;
  /** The end of the process's output so far, for the error that says it never became ready. */
  logTail: () => string;
};

/**
 * Polls `probeUrl` until it answers 2xx; fails at once if the process exits first, and with the
 * process's last output past the deadline. Used by spawnGatehouse and by the bench (bench/run.ts).
 */
export async function waitUntilAnswering(probeUrl: string, child: ChildProcess, options: ReadyOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${options.name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${options.logTail()}`);
    }
    try {
      const res = await fetch(probeUrl, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${options.name} at ${probeUrl} did not become ready:\n${options.logTail()}`);
}

export type NodeProcessOptions = {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout and stderr lines are pushed here, or (the bench) appended to `logFile` instead. */
  logs?: string[];
  logFile?: string;
  /** Its own process group (signalled as a whole by signalProcess): cluster workers included. */
  processGroup?: boolean;
};

export type NodeProcess = { child: ChildProcess; exit: Promise<number | string | null>; processGroup: boolean };

/** `node <SERVER_NODE_ARGS> <args>`, as the servers of the tests and of the bench run. */
export function startNodeProcess(args: string[], options: NodeProcessOptions): NodeProcess {
  const fd = options.logFile === undefined ? undefined : openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [...SERVER_NODE_ARGS, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
    detached: options.processGroup ?? false,
  });
  if (fd !== undefined) closeSync(fd);
  const exit = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  const logs = options.logs;
  if (logs) {
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.on('data', (chunk: Buffer) => {
        const lines = (partial + chunk.toString()).split('\n');
        partial = lines.pop() ?? '';
        logs.push(...lines);
      });
    }
  }
  return { child, exit, processGroup: options.processGroup ?? false };
}

/**
 * Sends `sig` (to the whole group when the process has one) and waits for the exit; with
 * `killAfterMs`, SIGKILL follows if it has not exited by then.
 */
export async function signalProcess(proc: NodeProcess, sig: NodeJS.Signals, killAfterMs?: number): Promise<void> {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const pid = child.pid;
  const send = (s: NodeJS.Signals) => (proc.processGroup ? process.kill(-pid, s) : child.kill(s));
  send(sig);
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => send('SIGKILL'), killAfterMs);
  await proc.exit;
  clearTimeout(timer);
}

/**
 * Servers start as README's production command and `npm start` run them: with an explicit heap
 * limit. Without one V8 sizes its heap from the machine's memory and lets RSS wander upward long
 * after the live heap is flat, which is not what the soak's memory check is about. The young
 * generation is capped as in production too (README, Production: Memory).
 */
const SERVER_NODE_ARGS = ['--max-old-space-size=512', '--max-semi-space-size=8'];

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
  let proc!: NodeProcess;

  const start = async (wait: boolean) => {
    proc = startNodeProcess([SERVER_ENTRY], { cwd, env, logs });
    if (wait) await waitUntilAnswering(`${url}/healthz`, proc.child, { name: 'gatehouse', timeoutMs: 30_000, logTail: () => logs.join('\n').slice(-3000) });
  };
  await start(options.waitReady ?? true);

  const signal = (sig: NodeJS.Signals) => signalProcess(proc, sig);
  return {
    url,
    port,
    env,
    logs,
    pid: () => proc.child.pid!,
    exited: () => proc.exit,
    kill9: () => signal('SIGKILL'),
    stop: () => signal('SIGTERM'),
    restart: async () => {
      await signal('SIGTERM');
      await start(true);
    },
    rssKiB: () => {
      const status = readFileSync(`/proc/${proc.child.pid}/status`, 'utf8');
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
      if (!match) throw new Error(`no VmRSS for pid ${proc.child.pid}`);
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
