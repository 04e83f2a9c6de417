// Runs the admin CLI as a subprocess (the built dist/cli/main.js; global setup builds it), with
// a configuration of the test's own and a working directory without a .env file.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_KEY_ENCRYPTION_SECRET } from './gatehouse.js';
import type { TestDatabase } from './databases.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI_ENTRY = path.join(ROOT, 'dist/cli/main.js');

type CliRun = { code: number | null; stdout: string; stderr: string };

export type Cli = {
  (args: string[], options?: { input?: string; env?: Record<string, string> }): Promise<CliRun>;
  /** Runs with --json, expects exit 0, and parses stdout. */
  json<T = unknown>(args: string[], options?: { input?: string }): Promise<T>;
  cwd: string;
};

export function cliFor(database: TestDatabase, baseEnv: Record<string, string> = {}): Cli {
  const cwd = mkdtempSync(path.join(process.env.GATEHOUSE_TEST_RUN_DIR ?? '/tmp', 'cli-'));
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    DATA_DIR: path.join(cwd, 'data'),
    KEY_ENCRYPTION_SECRET: TEST_KEY_ENCRYPTION_SECRET,
    ...baseEnv,
  };
  const run = ((args, options = {}) =>
    new Promise<CliRun>((resolve, reject) => {
      const child = spawn(process.execPath, [CLI_ENTRY, ...args], { cwd, env: { ...env, ...options.env }, stdio: 'pipe' });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(options.input ?? '');
    })) as Cli;
  run.json = async <T>(args: string[], options: { input?: string } = {}) => {
    const result = await run([...args, '--json'], options);
    if (result.code !== 0) throw new Error(`gatehouse ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout) as T;
  };
  run.cwd = cwd;
  return run;
}
