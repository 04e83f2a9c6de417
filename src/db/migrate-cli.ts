// `npm run db:migrate` (deploy), `db:status` (status) and `db:migrate:create -- <name>` (create):
// Prisma Migrate's commands, run through the wasm schema engine (src/db/migrations/).
// Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.
import path from 'node:path';
import { applyMigrations, createMigration, migrationStatus, writeMigration } from './migrations/migrate.js';
import { databaseTargetFromUrl, migrationsDirFor, type DatabaseTarget, type DbKind } from './migrations/paths.js';

const USAGE = 'usage: migrate-cli deploy | status | create <name> [--provider sqlite|postgresql]';

// TODO(config): use loadConfig() from src/config.ts
function databaseUrlFromEnv(): string {
  return process.env.DATABASE_URL || 'file:./data/gatehouse.db';
}

// TODO(config): use loadConfig() from src/config.ts
/** A PostgreSQL server where `create` may CREATE and DROP a temporary shadow database. */
function shadowDatabaseUrlFromEnv(): string {
  return process.env.SHADOW_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
}

class UsageError extends Error {}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function relative(file: string): string {
  return path.relative(process.cwd(), file) || file;
}

async function deploy(): Promise<void> {
  const { applied } = await applyMigrations(databaseTargetFromUrl(databaseUrlFromEnv()));
  for (const name of applied) print(`applied ${name}`);
  if (!applied.length) print('no pending migrations');
}

async function status(): Promise<void> {
  const target = databaseTargetFromUrl(databaseUrlFromEnv());
  const { applied, pending, failed, hasMigrationsTable } = await migrationStatus(target);
  if (!hasMigrationsTable) print(`no migrations table yet (${target.provider} database)`);
  for (const name of applied) print(`applied ${name}`);
  for (const name of failed) print(`failed  ${name}`);
  for (const name of pending) print(`pending ${name}`);
  if (!pending.length && !failed.length) print('database is up to date');
}

/** Where each provider's shadow database lives: SQLite's is in memory, PostgreSQL's on a server. */
function shadowTarget(provider: DbKind): DatabaseTarget {
  return provider === 'sqlite' ? { provider, file: ':memory:' } : { provider, url: shadowDatabaseUrlFromEnv() };
}

/**
 * Computes the migration for every provider before writing any, with one name and timestamp,
 * so a failure (e.g. PostgreSQL unreachable) leaves the two histories as they were.
 */
async function create(name: string, providers: DbKind[]): Promise<void> {
  const now = new Date();
  const planned: { provider: DbKind; created: string | null; sql: string | null }[] = [];
  for (const provider of providers) {
    const migration = await createMigration(shadowTarget(provider), name, { now, dryRun: true }).catch((error: unknown) => {
      const hint = provider === 'postgresql' ? ' (set SHADOW_DATABASE_URL, or use --provider sqlite)' : '';
      throw new Error(`${provider}: ${error instanceof Error ? error.message : String(error)}${hint}`);
    });
    planned.push({ provider, ...migration });
  }
  for (const { provider, created, sql } of planned) {
    if (created === null || sql === null) {
      print(`${provider}: no schema changes`);
      continue;
    }
    const file = await writeMigration(provider, { created, sql }, migrationsDirFor(provider));
    print(`${provider}: created ${relative(file)}`);
  }
}

function parseProviders(args: string[]): DbKind[] {
  const index = args.indexOf('--provider');
  if (index === -1) return ['sqlite', 'postgresql'];
  const value = args[index + 1];
  if (value !== 'sqlite' && value !== 'postgresql') throw new UsageError('--provider must be sqlite or postgresql');
  args.splice(index, 2);
  return [value];
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'deploy':
    case 'status':
      if (args.length) throw new UsageError(`${command} takes no arguments`);
      return command === 'deploy' ? deploy() : status();
    case 'create': {
      const providers = parseProviders(args);
      const [name, ...rest] = args;
      if (!name || name.startsWith('-') || rest.length) throw new UsageError('create needs exactly one migration name');
      return create(name, providers);
    }
    default:
      throw new UsageError(command ? `unknown command ${command}` : 'missing command');
  }
}

// exitCode rather than exit(): stdout may be a pipe that still has lines to flush.
main(process.argv.slice(2)).catch((error: unknown) => {
  const usage = error instanceof UsageError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(usage ? `${message}\n${USAGE}\n` : `error: ${message}\n`);
  process.exitCode = usage ? 2 : 1;
});
