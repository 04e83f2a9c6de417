// Getting a database's schema ready before use, shared by the server and the admin CLI.
// Embedded SQLite migrates itself; on PostgreSQL schema changes are an operator's deliberate
// step (`npm run db:migrate`), run once per deploy rather than raced by every instance at start.
import { readdir } from 'node:fs/promises';
import { openDatabase, type Database } from './client.js';
import { databaseTargetFromUrl, migrationsDirFor } from './migrations/paths.js';

export class SchemaNotReadyError extends Error {
  override name = 'SchemaNotReadyError';
}

/**
 * The cheap check: every migration directory has a finished, not rolled back row in Prisma's
 * `_prisma_migrations`. One query, so commands and starts skip booting the migration engine
 * (about two seconds) when nothing is pending. Any doubt (no table yet) answers false.
 */
export async function schemaIsCurrent(db: Database): Promise<boolean> {
  const entries = await readdir(migrationsDirFor(db.provider), { withFileTypes: true }).catch(() => []);
  const expected = entries.filter((e) => e.isDirectory()).map((e) => e.name);
  // SQLite: a connection that has read the schema before the migration engine runs makes the
  // engine's writes fail with SQLITE_BUSY (seen on an empty file), so the check reads through a
  // connection of its own, closed before any migration starts.
  const probe = db.provider === 'sqlite' ? await openDatabase(db.url) : db;
  try {
    const rows = await probe.prisma.$queryRawUnsafe<{ migration_name: string }[]>(
      'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL',
    );
    const applied = new Set(rows.map((r) => r.migration_name));
    return expected.every((name) => applied.has(name));
  } catch {
    return false;
  } finally {
    if (probe !== db) await probe.close();
  }
}

/** Returns the migrations applied (SQLite); throws SchemaNotReadyError when PostgreSQL is behind. */
export async function prepareSchema(databaseUrl: string, log: (message: string) => void = () => undefined): Promise<string[]> {
  const target = databaseTargetFromUrl(databaseUrl);
  // The engine (wasm, both drivers) loads only when there is something to check or apply.
  const { applyMigrations, migrationStatus } = await import('./migrations/migrate.js');
  if (target.provider === 'sqlite') {
    const { applied } = await applyMigrations(target, { log });
    return applied;
  }
  const status = await migrationStatus(target);
  if (status.pending.length || status.failed.length || !status.hasMigrationsTable) {
    throw new SchemaNotReadyError(
      `the PostgreSQL schema is not up to date (${status.pending.length} pending, ${status.failed.length} failed migrations): run \`npm run db:migrate\``,
    );
  }
  return [];
}
