// Prisma Migrate without Prisma's native schema engine, which Prisma's CLI downloads from outside
// the npm registry: Prisma's own schema engine compiled to wasm (./engine.ts) runs over our driver
// adapters (./adapters.ts). Migration folders, migration_lock.toml and the
// `_prisma_migrations` table are exactly Prisma's, so `prisma migrate deploy` stays usable
// wherever the native engine is available.
//
// Each operation opens its own connections and closes them before returning: SQLite
// migrations take an exclusive lock on the file, PostgreSQL migrations an advisory lock on
// their session, and both must be released before the server opens its own client.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SchemaFilter } from '@prisma/schema-engine-wasm/schema_engine_bg';
import { appliedMigrationNames } from './adapters.js';
import { withEngine } from './engine.js';
import { errorCode } from './errors.js';
import {
  assertLockfileProvider,
  LOCKFILE,
  lockfileContent,
  MIGRATION_FILE,
  migrationSlug,
  migrationTimestamp,
  readMigrationsList,
} from './folders.js';
import { migrationsDirFor, schemaPathFor, type DatabaseTarget, type DbKind, type MigrationSource } from './paths.js';

export type ApplyOptions = MigrationSource & { log?: (msg: string) => void };

export type MigrationStatus = { applied: string[]; pending: string[]; failed: string[]; hasMigrationsTable: boolean };

export type CreateOptions = MigrationSource & {
  /** Timestamp of the migration's name; pass the same one to keep two providers' histories parallel. */
  now?: Date;
  /** Compute the migration but write nothing. */
  dryRun?: boolean;
};

/** `created` is the migration's directory name (`<timestamp>_<name>`), null when the schema has no changes. */
export type CreatedMigration = { created: string | null; sql: string | null };

const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

/**
 * `prisma migrate deploy`: applies the committed migrations the database has not run yet.
 * Cheap when there is nothing to do, so it can run at every start. Concurrent callers on
 * PostgreSQL are serialized by the engine's advisory lock (see postgresConnection).
 */
export async function applyMigrations(target: DatabaseTarget, opts: ApplyOptions = {}): Promise<{ applied: string[] }> {
  if (target.provider === 'sqlite') await mkdir(path.dirname(target.file), { recursive: true });
  const migrationsList = await readMigrationsList(opts.migrationsDir ?? migrationsDirFor(target.provider));
  const applied = await withEngine(target, opts, async ({ engine }) => {
    const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: NO_FILTER });
    return appliedMigrationNames;
  });
  for (const name of applied) opts.log?.(`applied migration ${name}`);
  return { applied };
}

/** `prisma migrate status`: which committed migrations are applied, pending or failed. */
export async function migrationStatus(target: DatabaseTarget, opts: MigrationSource = {}): Promise<MigrationStatus> {
  const migrationsList = await readMigrationsList(opts.migrationsDir ?? migrationsDirFor(target.provider));
  const local = migrationsList.migrationDirectories.map((dir) => dir.path);
  const noTable: MigrationStatus = { applied: [], pending: local, failed: [], hasMigrationsTable: false };
  // Opening a missing SQLite file would create it (and fail when its directory is missing).
  if (target.provider === 'sqlite' && !existsSync(target.file)) return noTable;

  return withEngine(target, opts, async ({ engine, main }) => {
    let diagnosis;
    try {
      diagnosis = await engine.diagnoseMigrationHistory({ migrationsList, optInToShadowDatabase: false, filters: NO_FILTER });
    } catch (error) {
      // On SQLite the wasm engine reports a missing `_prisma_migrations` table as P1014.
      if (errorCode(error) === 'P1014') return noTable;
      throw error;
    }
    if (!diagnosis.hasMigrationsTable) return noTable;
    const history = diagnosis.history;
    const pending =
      history?.diagnostic === 'databaseIsBehind' || history?.diagnostic === 'historiesDiverge' ? history.unappliedMigrationNames : [];
    return {
      applied: await appliedMigrationNames(main),
      pending,
      failed: diagnosis.failedMigrationNames,
      hasMigrationsTable: true,
    };
  });
}

/**
 * `prisma migrate dev --create-only`, minus the empty draft: replays the committed migrations
 * on a shadow database, diffs the result against the schema file and writes
 * `<migrationsDir>/<timestamp>_<name>/migration.sql` and `migration_lock.toml`.
 *
 * The target only hosts the shadow database; its own contents are never read or changed.
 * SQLite: the shadow is in memory. PostgreSQL: a randomly named database is created on the
 * target's server (needs CREATEDB) and dropped before returning.
 */
export async function createMigration(target: DatabaseTarget, name: string, opts: CreateOptions = {}): Promise<CreatedMigration> {
  const slug = migrationSlug(name);
  const migrationsDir = opts.migrationsDir ?? migrationsDirFor(target.provider);
  const migrationsList = await readMigrationsList(migrationsDir);
  assertLockfileProvider(migrationsList, target.provider);
  // Diffing "from migrations" needs a lock file to pick the connector, even before the first migration.
  const lockfile = { ...migrationsList.lockfile, content: migrationsList.lockfile.content ?? lockfileContent(target.provider) };

  const schemaPath = opts.schemaPath ?? schemaPathFor(target.provider);
  const schema = { path: schemaPath, content: await readFile(schemaPath, 'utf8') };
  // The wasm engine's createMigration cannot reach a shadow database (it only supports
  // shadows "provided through an external factory"); its diff command can, and renders the
  // same script. exitCode 2 means "the diff is not empty".
  const result = await withEngine(target, { ...opts, shadowOnly: true }, ({ engine }) =>
    engine.diff({
      from: { tag: 'migrations', ...migrationsList, lockfile },
      to: { tag: 'schemaDatamodel', files: [schema] },
      script: true,
      exitCode: true,
      filters: NO_FILTER,
    }),
  );
  if (result.exitCode !== 2 || !result.stdout) return { created: null, sql: null };

  const created = `${migrationTimestamp(opts.now ?? new Date())}_${slug}`;
  if (!opts.dryRun) await writeMigration(target.provider, { created, sql: result.stdout }, migrationsDir);
  return { created, sql: result.stdout };
}

/** Writes a migration computed by `createMigration(..., { dryRun: true })`, as Prisma's CLI does. */
export async function writeMigration(
  provider: DbKind,
  migration: { created: string; sql: string },
  migrationsDir = migrationsDirFor(provider),
): Promise<string> {
  const dir = path.join(migrationsDir, migration.created);
  if (existsSync(dir)) throw new Error(`the migration directory already exists at ${dir}`);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, MIGRATION_FILE);
  await writeFile(file, migration.sql, 'utf8');
  await writeFile(path.join(migrationsDir, LOCKFILE), lockfileContent(provider), 'utf8');
  return file;
}
