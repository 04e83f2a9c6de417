// A cluster (src/cluster.ts) started as an operator starts it: one primary process on a port of
// its own, WEB_CONCURRENCY workers, a fresh SQLite database, its output collected for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './free-port.js';
import { TEST_KEY_ENCRYPTION_SECRET } from './key-secret.js';

export type RunningCluster = { primary: ChildProcess; issuer: string; output(): string };

/** `env` is the whole environment the primary gets besides the cluster's own settings. */
export async function spawnCluster(name: string, env: NodeJS.ProcessEnv, settings: Record<string, string> = {}): Promise<RunningCluster> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(path.join(process.env.GATEHOUSE_TEST_RUN_DIR ?? '/tmp', `${name}-`));
  const primary = spawn(process.execPath, ['--import', 'tsx', 'src/cluster.ts'], {
    cwd: process.cwd(),
    env: {
      ...env,
      NODE_ENV: 'test',
      WEB_CONCURRENCY: '2',
      HOST: '127.0.0.1',
      PORT: String(port),
      ISSUER: issuer,
      METRICS_PORT: '0',
      DATABASE_URL: `file:${path.join(dir, 'gatehouse.db')}`,
      DATA_DIR: dir,
      KEY_ENCRYPTION_SECRET: TEST_KEY_ENCRYPTION_SECRET,
      LOG_LEVEL: 'info',
      ...settings,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  primary.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  primary.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { primary, issuer, output: () => output };
}
