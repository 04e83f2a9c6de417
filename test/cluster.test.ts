// Cluster mode (src/cluster.ts, WEB_CONCURRENCY) as an operator runs it: a subprocess that
// starts its workers, serves, replaces a worker that is killed, and stops everything on SIGTERM.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { spawnCluster } from './support/cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Direct children of a process (Linux /proc) that run the cluster entry: its workers (tsx's esbuild helper is left out). */
function childPids(pid: number): number[] {
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (text) pids.push(...text.split(/\s+/).map(Number));
  }
  return pids.filter((child) => {
    try {
      return readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('src/cluster.ts');
    } catch {
      return false;
    }
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls `check` until it holds (or fails after `attempts`): the assertion is on the state, not on how fast it came. */
async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, what: string, attempts = 150): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await check();
    if (value) return value;
    await sleep(200);
  }
  throw new Error(`gave up waiting: ${what}`);
}

describe('cluster mode (WEB_CONCURRENCY=2)', () => {
  let primary: ChildProcess;
  let issuer: string;
  let output: () => string;

  beforeAll(async () => {
    ({ primary, issuer, output } = await spawnCluster('cluster', process.env));
  });
  afterAll(() => {
    // Only when a test failed half-way: nothing may outlive the suite.
    if (!primary?.pid || primary.exitCode !== null) return;
    for (const pid of childPids(primary.pid)) process.kill(pid, 'SIGKILL');
    primary.kill('SIGKILL');
  });

  const discovery = async () => {
    try {
      const res = await fetch(`${issuer}/.well-known/openid-configuration`);
      return res.ok ? ((await res.json()) as { issuer: string }) : undefined;
    } catch {
      return undefined;
    }
  };
  const bothReady = () => (output().match(/is ready; discovery at/g) ?? []).length >= 2;

  test('starts two workers that serve the issuer', async () => {
    await eventually(bothReady, `two workers ready; output so far:\n${output()}`);
    expect(childPids(primary.pid!)).toHaveLength(2);
    expect((await eventually(discovery, 'discovery')).issuer).toBe(issuer);
    const health = await fetch(`${issuer}/readyz`);
    expect(health.status).toBe(200);
  });

  test('replaces a killed worker and keeps serving', async () => {
    const [victim, survivor] = childPids(primary.pid!);
    process.kill(victim!, 'SIGKILL');
    const replaced = await eventually(() => {
      const now = childPids(primary.pid!);
      return now.length === 2 && !now.includes(victim!) && now.includes(survivor!) ? now : undefined;
    }, 'a replacement worker');
    expect(replaced).toHaveLength(2);
    await eventually(() => (output().match(/is ready; discovery at/g) ?? []).length >= 3, 'the replacement ready');
    expect(await eventually(discovery, 'discovery after replacement')).toBeTruthy();
  });

  test('SIGTERM stops the workers and the primary, exit code 0', async () => {
    const workers = childPids(primary.pid!);
    const exited = new Promise<number | null>((resolve) => primary.once('exit', (code) => resolve(code)));
    primary.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of workers) expect(alive(pid)).toBe(false);
    expect(output()).toContain('cluster stopped');
  });
});
