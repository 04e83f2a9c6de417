// Migrations through the wasm schema engine (src/db/migrations/), on both providers:
// fresh databases migrate, re-runs are no-ops, the tables fit the generated clients, and the
// committed migration histories match the schema files.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import { applyMigrations, createMigration, migrationStatus } from '../../src/db/migrations/migrate.js';
import { databaseTargetFromUrl, migrationsDirFor, schemaPathFor, type DatabaseTarget, type DbKind } from '../../src/db/migrations/paths.js';
import { PrismaClient as PostgresClient } from '../../src/db/generated/postgresql/client.js';
import { PrismaClient as SqliteClient } from '../../src/db/generated/sqlite/client.js';
import { PROVIDERS } from '../support/databases.js';
import { dropDatabase, pgUrlFor, uniqueDatabaseName, withAdmin } from '../support/postgres.js';

/** Directory names of the committed migrations, in the order Prisma applies them. */
function committedMigrations(provider: DbKind): string[] {
  return readdirSync(migrationsDirFor(provider), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b));
}

type EmptyDatabase = { target: DatabaseTarget; drop(): Promise<void> };

/** A database that has never been migrated: a not-yet-existing SQLite file, or a new PostgreSQL database. */
async function emptyDatabase(provider: DbKind): Promise<EmptyDatabase> {
  if (provider === 'sqlite') {
    const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-migrations-'));
    // A missing parent directory: applyMigrations must create it.
    const target: DatabaseTarget = { provider, file: path.join(dir, 'nested', 'gatehouse.db') };
    return { target, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const name = uniqueDatabaseName('gh_mig');
  await withAdmin((client) => client.query(`CREATE DATABASE "${name}"`));
  return { target: { provider, url: pgUrlFor(name) }, drop: () => dropDatabase(name) };
}

/** Inserts and reads back one User through the provider's generated client. */
async function userRoundTrip(target: DatabaseTarget): Promise<unknown> {
  const prisma =
    target.provider === 'sqlite'
      ? new SqliteClient({ adapter: new PrismaBetterSqlite3({ url: `file:${target.file}` }) })
      : (new PostgresClient({ adapter: new PrismaPg({ connectionString: target.url }) }) as unknown as SqliteClient);
  try {
    const id = randomUUID();
    await prisma.user.create({ data: { id, email: `${id}@example.test`, passwordHash: 'x', updatedAt: new Date() } });
    return await prisma.user.findUniqueOrThrow({ where: { id }, select: { email: true, emailVerified: true, failedLoginCount: true } });
  } finally {
    await prisma.$disconnect();
  }
}

test('database URLs map to targets', () => {
  expect(databaseTargetFromUrl('file:./data/x.db')).toEqual({ provider: 'sqlite', file: path.resolve('data/x.db') });
  expect(databaseTargetFromUrl('postgresql://u@h/db')).toEqual({ provider: 'postgresql', url: 'postgresql://u@h/db' });
  expect(databaseTargetFromUrl('postgres://u@h/db').provider).toBe('postgresql');
  expect(() => databaseTargetFromUrl('mysql://root:secret@h/db')).toThrow(/unsupported database URL scheme "mysql"/);
});

describe.each(PROVIDERS)('migrations on %s', (provider) => {
  let db: EmptyDatabase;
  const committed = committedMigrations(provider);

  beforeAll(async () => {
    db = await emptyDatabase(provider);
  });
  afterAll(async () => {
    await db.drop();
  });

  test('there is at least one committed migration', () => {
    expect(committed.length).toBeGreaterThan(0);
  });

  test('a fresh database reports every migration pending', async () => {
    expect(await migrationStatus(db.target)).toEqual({ applied: [], pending: committed, failed: [], hasMigrationsTable: false });
  });

  test('apply runs every committed migration, in order', async () => {
    const logged: string[] = [];
    expect(await applyMigrations(db.target, { log: (msg) => logged.push(msg) })).toEqual({ applied: committed });
    expect(logged).toEqual(committed.map((name) => `applied migration ${name}`));
  });

  test('a second apply is a no-op', async () => {
    expect(await applyMigrations(db.target)).toEqual({ applied: [] });
  });

  test('status then reports nothing pending', async () => {
    expect(await migrationStatus(db.target)).toEqual({ applied: committed, pending: [], failed: [], hasMigrationsTable: true });
  });

  test('the tables accept a round trip through the generated client', async () => {
    expect(await userRoundTrip(db.target)).toEqual({ email: expect.stringMatching(/@example\.test$/), emailVerified: false, failedLoginCount: 0 });
  });

  test('concurrent applies to a fresh database run each migration once', async () => {
    const fresh = await emptyDatabase(provider);
    try {
      const results = await Promise.all([applyMigrations(fresh.target), applyMigrations(fresh.target), applyMigrations(fresh.target)]);
      expect(results.flatMap((result) => result.applied)).toEqual(committed);
      expect((await migrationStatus(fresh.target)).applied).toEqual(committed);
    } finally {
      await fresh.drop();
    }
  });
});

describe('committed migrations match the schema files', () => {
  // Fails when a schema was edited without `npm run db:migrate:create -- <name>`.
  test.each(PROVIDERS)('%s: creating a migration finds no changes', async (provider) => {
    const shadowHost: DatabaseTarget =
      provider === 'sqlite' ? { provider, file: ':memory:' } : { provider, url: pgUrlFor('postgres') };
    expect(await createMigration(shadowHost, 'drift_check', { dryRun: true })).toEqual({ created: null, sql: null });
  });

  test('a schema edited without a migration is detected', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-drift-'));
    try {
      const schemaPath = path.join(dir, 'schema.prisma');
      writeFileSync(schemaPath, `${readFileSync(schemaPathFor('sqlite'), 'utf8')}\nmodel Extra {\n  id String @id\n}\n`);
      const { created, sql } = await createMigration({ provider: 'sqlite', file: ':memory:' }, 'extra', { schemaPath, dryRun: true });
      expect(created).toMatch(/^\d{14}_extra$/);
      expect(sql).toContain('CREATE TABLE "Extra"');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('createMigration writes what Prisma writes', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-create-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a migration folder and lock file, then nothing more to create', async () => {
    const target: DatabaseTarget = { provider: 'sqlite', file: ':memory:' };
    const now = new Date(Date.UTC(2030, 0, 2, 3, 4, 5));
    const { created, sql } = await createMigration(target, 'Add everything', { migrationsDir: dir, now });
    expect(created).toBe('20300102030405_add_everything');
    expect(sql).toContain('CREATE TABLE "User"');
    expect(readFileSync(path.join(dir, created!, 'migration.sql'), 'utf8')).toBe(sql);
    expect(readFileSync(path.join(dir, 'migration_lock.toml'), 'utf8')).toBe(
      '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "sqlite"\n',
    );
    expect(await createMigration(target, 'again', { migrationsDir: dir })).toEqual({ created: null, sql: null });
  });
});
