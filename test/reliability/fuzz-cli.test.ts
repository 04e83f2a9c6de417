// Generated bad input for the admin CLI (issue 9, item 5): arguments and seed files. Whatever
// is typed: exit 0, 1 (runtime failure) or 2 (usage or validation), never a crash; a failure
// says what went wrong on stderr without a stack trace, and input that fails validation is
// reported as such (exit 2), never as an "unexpected error". Most runs are in-process through
// runCli (src/cli/program.ts, what main.ts runs); a few go through the real subprocess.
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { runCli } from '../../src/cli/program.js';
import { cliFor } from '../support/cli.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { TEST_KEY_ENCRYPTION_SECRET } from '../support/gatehouse.js';
import { scaled } from '../support/process.js';
import { report } from './helpers.js';

const RUNS = scaled(120, 1500);
const SUBPROCESS_RUNS = scaled(6, 40);
const SEED_RUNS = scaled(60, 800);

const COMMANDS: string[][] = [
  ['client', 'create'], ['client', 'list'], ['client', 'show'], ['client', 'update'], ['client', 'rotate-secret'], ['client', 'disable'],
  ['client', 'enable'], ['client', 'delete'], ['api', 'create'], ['api', 'list'], ['api', 'show'], ['api', 'update'], ['api', 'delete'],
  ['user', 'create'], ['user', 'list'], ['user', 'show'], ['user', 'set-password'], ['user', 'disable'], ['user', 'unlock'],
  ['user', 'sessions'], ['user', 'revoke'], ['keys', 'list'], ['keys', 'retire'], ['audit', 'tail'], ['seed'], ['client'], ['nope'], [],
];
const OPTIONS = [
  '--name', '--type', '--redirect-uri', '--post-logout-redirect-uri', '--cors-origin', '--api', '--scope', '--auth-method', '--jwks-file',
  '--first-party', '--clear', '--overlap', '--identifier', '--token-ttl', '--email', '--email-verified', '--password-stdin', '--client',
  '--activation-delay', '--force', '--since', '--type', '--limit', '--secrets-out', '--dry-run', '--json', '--help', '--bogus', '-x', '--',
];
const value = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', ' ', '-', '--', '0', '-1', '1e9', '99999999999', '1h', '31d', 'web', 'spa', 'native', 'service', 'device',
    'https://app.example.com/cb', 'http://localhost:8080/cb', 'javascript:alert(1)', 'urn:x', 'a@b', 'someone@example.com',
    'none', 'client_secret_basic', 'private_key_jwt', 'orders=read,write', '=', '/dev/null', '/etc/passwd', 'x'.repeat(500), '\u0000'),
);
const argvArb = fc
  .tuple(fc.constantFrom(...COMMANDS), fc.array(fc.oneof(fc.constantFrom(...OPTIONS), value), { maxLength: 8 }))
  .map(([command, rest]) => [...command, ...rest].filter((arg) => !arg.includes('\u0000')));

/** A V8 stack frame: `    at fn (file:///...:12:3)` or `    at node:internal/...:1:2`. */
const STACK = /^\s+at .*(?:file:|node:|\/)[^\s]*:\d+:\d+\)?$/m;

type Outcome = { code: number; stdout: string; stderr: string };

function checkOutcome(argv: string[], outcome: Outcome): void {
  const where = `gatehouse ${JSON.stringify(argv)} -> ${outcome.code}: ${outcome.stderr.slice(0, 400)}`;
  if (![0, 1, 2].includes(outcome.code)) throw new Error(`exit code: ${where}`);
  if (STACK.test(outcome.stderr)) throw new Error(`stack trace: ${where}`);
  if (/unexpected error/i.test(outcome.stderr)) throw new Error(`unclassified error: ${where}`);
  if (outcome.code !== 0 && !outcome.stderr.trim()) throw new Error(`failure without a message: ${where}`);
}

describe('generated bad input for the admin CLI', () => {
  let database: TestDatabase;
  let dir: string;
  const saved = { ...process.env };
  const tally = { runs: 0, byCode: new Map<number, number>() };
  const count = (code: number) => {
    tally.runs += 1;
    tally.byCode.set(code, (tally.byCode.get(code) ?? 0) + 1);
  };

  async function inProcess(argv: string[]): Promise<Outcome> {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, {
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
      readStdin: async () => '',
      promptHidden: null,
    });
    count(code);
    return { code, stdout, stderr };
  }

  beforeAll(async () => {
    database = await freshDatabase('sqlite');
    dir = mkdtempSync(path.join(process.env.GATEHOUSE_TEST_RUN_DIR ?? '/tmp', 'fuzz-cli-'));
    // runCli reads its configuration from the environment, as the process would.
    Object.assign(process.env, {
      NODE_ENV: 'test',
      DATABASE_URL: database.url,
      KEY_ENCRYPTION_SECRET: TEST_KEY_ENCRYPTION_SECRET,
      DATA_DIR: path.join(dir, 'data'),
      LOG_LEVEL: 'error',
    });
    // Something to find: a client, an API, a person.
    expect((await inProcess(['api', 'create', '--identifier', 'https://api.example.com/orders', '--name', 'Orders', '--scope', 'orders:read'])).code).toBe(0);
  });
  afterAll(async () => {
    process.env = saved;
    report('fuzz-cli', { runs: tally.runs, exit_codes: Object.fromEntries([...tally.byCode].sort(([a], [b]) => a - b)) });
    await database.drop();
  });

  test('arguments, in-process', async () => {
    await fc.assert(
      fc.asyncProperty(argvArb, async (argv) => checkOutcome(argv, await inProcess(argv))),
      { numRuns: RUNS },
    );
  });

  test('seed files of any shape', async () => {
    const entry = fc.dictionary(
      fc.constantFrom('identifier', 'name', 'scopes', 'access_token_ttl', 'client_id', 'profile', 'redirect_uris', 'post_logout_redirect_uris',
        'cors_origins', 'apis', 'scope', 'grant_types', 'token_endpoint_auth_method', 'jwks', 'first_party', 'default_api', 'disabled',
        'email', 'password', 'email_verified', 'extra'),
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), value),
      { maxKeys: 8 },
    );
    const seed = fc.oneof(
      { weight: 4, arbitrary: fc.record({ apis: fc.array(entry, { maxLength: 3 }), clients: fc.array(entry, { maxLength: 3 }), users: fc.array(entry, { maxLength: 2 }) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)) },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(seed, fc.boolean(), async (text, dryRun) => {
        const file = path.join(dir, `seed-${n++}.json`);
        writeFileSync(file, text);
        const argv = ['seed', file, ...(dryRun ? ['--dry-run'] : [])];
        checkOutcome(argv, await inProcess(argv));
      }),
      { numRuns: SEED_RUNS },
    );
  });

  test('arguments, through the real process (main.ts): exit codes and one-line messages', async () => {
    const cli = cliFor(database);
    await fc.assert(
      fc.asyncProperty(argvArb, async (argv) => {
        const run = await cli(argv);
        count(run.code ?? -1);
        checkOutcome(argv, { code: run.code ?? -1, stdout: run.stdout, stderr: run.stderr });
      }),
      { numRuns: SUBPROCESS_RUNS },
    );
  });
});
