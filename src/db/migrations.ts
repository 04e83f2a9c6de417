// Prisma Migrate without Prisma's native schema engine, which cannot be downloaded here (see the
// team's guide prisma-offline.md, "the guide" below; the bug numbers cited are its). Prisma's
// own schema engine compiled to wasm (@prisma/schema-engine-wasm, byte-identical to the one in
// prisma@7.10.0) runs over our driver adapters. Migration folders, migration_lock.toml and the
// `_prisma_migrations` table are exactly Prisma's, so `prisma migrate deploy` stays usable
// wherever the native engine is available.
//
// Each operation opens its own connections and closes them before returning: SQLite
// migrations take an exclusive lock on the file, PostgreSQL migrations an advisory lock on
// their session, and both must be released before the server opens its own client.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type ErrorRegistry,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
  type SqlQuery,
} from '@prisma/driver-adapter-utils';
import * as engineBindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { MigrationList, SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm/schema_engine_bg';
import pg from 'pg';



/** Where the migrations and the schema come from; defaults are the project's own. */
export type MigrationSource = { migrationsDir?: string; schemaPath?: string };

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

// Targets and paths live in ./migration-paths.ts (cheap to import); re-exported here.
import { migrationsDirFor, schemaPathFor, type DatabaseTarget, type Provider } from './migration-paths.js';
export { databaseTargetFromUrl, migrationsDirFor, schemaPathFor, type DatabaseTarget, type Provider } from './migration-paths.js';

const LOCKFILE = 'migration_lock.toml';
const MIGRATION_FILE = 'migration.sql';
const NO_FILTER: SchemaFilter = { externalTables: [], externalEnums: [] };

// ---------------------------------------------------------------------------
// Public operations
// ---------------------------------------------------------------------------

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
      // Guide bug 5: on SQLite a missing `_prisma_migrations` table surfaces as P1014.
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
  provider: Provider,
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

// ---------------------------------------------------------------------------
// Migration folders, as Prisma's CLI reads and writes them
// ---------------------------------------------------------------------------

async function readMigrationsList(baseDir: string): Promise<MigrationList> {
  const lockfile = { path: LOCKFILE, content: await readFile(path.join(baseDir, LOCKFILE), 'utf8').catch(() => null) };
  const entries = await readdir(baseDir, { withFileTypes: true }).catch(() => []);
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => a.localeCompare(b));
  const migrationDirectories = await Promise.all(
    names.map(async (name) => ({
      path: name,
      migrationFile: {
        path: MIGRATION_FILE,
        content: await readFile(path.join(baseDir, name, MIGRATION_FILE), 'utf8').then(
          (value) => ({ tag: 'ok' as const, value }),
          (error: Error) => ({ tag: 'error' as const, value: error.message }),
        ),
      },
    })),
  );
  return { baseDir, lockfile, shadowDbInitScript: '', migrationDirectories };
}

function lockfileContent(provider: Provider): string {
  return `# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "${provider}"\n`;
}

function assertLockfileProvider(list: MigrationList, provider: Provider): void {
  const locked = /^\s*provider\s*=\s*"([^"]*)"/m.exec(list.lockfile.content ?? '')?.[1];
  if (locked !== undefined && locked !== provider) {
    throw new Error(`${path.join(list.baseDir, LOCKFILE)} is for provider "${locked}", not "${provider}"`);
  }
}

/** Prisma's CLI slugifies names (`@sindresorhus/slugify`, separator "_"): "Add userName" → "add_user_name". */
function migrationSlug(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/([a-z\d])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z\d]+)/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 200);
  if (!slug) throw new Error(`invalid migration name ${JSON.stringify(name)}: use letters, digits and underscores`);
  return slug;
}

/** UTC `YYYYMMDDHHMMSS`, the prefix Prisma gives migration directories. */
function migrationTimestamp(date: Date): string {
  return date.toISOString().replace(/\D/g, '').slice(0, 14);
}

async function appliedMigrationNames(adapter: SqlDriverAdapter): Promise<string[]> {
  const result = await adapter.queryRaw(
    rawQuery(
      'SELECT "migration_name" FROM "_prisma_migrations" WHERE "finished_at" IS NOT NULL AND "rolled_back_at" IS NULL ORDER BY "started_at", "migration_name"',
    ),
  );
  return result.rows.map((row) => String(row[0]));
}

function rawQuery(sql: string): SqlQuery {
  return { sql, args: [], argTypes: [] };
}

// ---------------------------------------------------------------------------
// The wasm schema engine
// ---------------------------------------------------------------------------

// tsconfig's lib (ES2023) carries no WebAssembly typings (they live in lib.dom); the part used here.
declare const WebAssembly: {
  instantiate(bytes: Uint8Array, imports: Record<string, object>): Promise<{ instance: { exports: Record<string, unknown> } }>;
  RuntimeError: new (message?: string) => Error;
};

type PanicRegistry = { message: string; get(): string; set_message(message: string): void };
const panicScope = globalThis as typeof globalThis & { PRISMA_WASM_PANIC_REGISTRY?: PanicRegistry };

let bindingsReady: Promise<typeof engineBindings> | undefined;

/**
 * The package's main entry imports the .wasm file as an ES module, which Node 20 cannot do;
 * instantiate it by hand against its JS glue instead (once per process, about 30 ms).
 */
function loadEngineBindings(): Promise<typeof engineBindings> {
  bindingsReady ??= (async () => {
    // Where Rust panics leave their message; Prisma's CLI installs the same registry.
    panicScope.PRISMA_WASM_PANIC_REGISTRY ??= {
      message: '',
      get() {
        return this.message;
      },
      set_message(message: string) {
        this.message = message;
      },
    };
    const glue = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bytes = await readFile(path.join(path.dirname(glue), 'schema_engine_bg.wasm'));
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': withUnrefTimers(engineBindings) });
    engineBindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return engineBindings;
  })();
  return bindingsReady;
}

/**
 * The engine's timers are never cleared (its glue imports setTimeout but no clearTimeout): the
 * 10 s advisory-lock timeout of every PostgreSQL apply would hold the process open after the
 * migration finished. Unref them; pending queries keep the process alive while they matter.
 */
function withUnrefTimers(bindings: typeof engineBindings): Record<string, unknown> {
  const imports: Record<string, unknown> = { ...bindings };
  for (const name of Object.keys(imports)) {
    if (name.startsWith('__wbg_setTimeout_')) imports[name] = (fn: () => void, ms: number) => setTimeout(fn, ms >>> 0).unref();
  }
  return imports;
}

type EngineSession = { engine: SchemaEngine; main: SqlDriverAdapter };

/** The adapter factory the engine drives, and how to release everything it opened. */
type Connection = { factory: SqlMigrationAwareDriverAdapterFactory; close(): Promise<void> };

/**
 * Runs `fn` with an engine connected to the target, then closes every connection (and drops
 * any shadow database). Engine errors come back as one-line Errors.
 * `shadowOnly`: the operation needs nothing but a shadow database (createMigration).
 */
async function withEngine<T>(
  target: DatabaseTarget,
  opts: MigrationSource & { shadowOnly?: boolean },
  fn: (session: EngineSession) => Promise<T>,
): Promise<T> {
  const bindings = await loadEngineBindings();
  const connection =
    target.provider === 'sqlite' ? sqliteConnection(opts.shadowOnly ? ':memory:' : target.file) : postgresConnection(target.url);
  const factory = bindMigrationAwareSqlAdapterFactory(connection.factory);
  let engine: SchemaEngine | undefined;
  try {
    const schemaPath = opts.schemaPath ?? schemaPathFor(target.provider);
    const schema = await readFile(schemaPath, 'utf8');
    engine = await bindings.SchemaEngine.new({ datamodels: [[schemaPath, schema]] }, () => undefined, factory);
    // The engine connects first thing; that adapter is the main database's.
    const main = await connection.factory.connect();
    return await fn({ engine, main });
  } catch (error) {
    throw engineError(error, factory.errorRegistry);
  } finally {
    engine?.free();
    await connection.close();
  }
}

// ---------------------------------------------------------------------------
// Adapters, with the guide's bugs worked around
// ---------------------------------------------------------------------------

/** Tracks adapters so that close() releases them even when the engine did not. */
function disposeOnce(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const dispose = adapter.dispose.bind(adapter);
  let disposed: Promise<void> | undefined;
  adapter.dispose = () => (disposed ??= dispose());
  return adapter;
}

function sqliteConnection(file: string): Connection {
  // The shadow is a fresh in-memory database per connection, so it needs no reset
  // (guide bug 5: SQLite reset is a no-op in the wasm engine) and no cleanup.
  const factory = new PrismaBetterSqlite3({ url: file, timeout: 10_000 }, { shadowDatabaseUrl: ':memory:' });
  const opened: SqlDriverAdapter[] = [];
  const track = async (connecting: Promise<SqlDriverAdapter>): Promise<SqlDriverAdapter> => {
    const adapter = disposeOnce(runMultiStatementScripts(await connecting));
    opened.push(adapter);
    return adapter;
  };
  // connect() is called twice (by the engine, then by withEngine): one connection serves both.
  let main: Promise<SqlDriverAdapter> | undefined;
  return {
    factory: {
      provider: factory.provider,
      adapterName: factory.adapterName,
      connect: () => (main ??= track(factory.connect())),
      connectToShadowDb: () => track(factory.connectToShadowDb()),
    },
    close: async () => {
      await Promise.all(opened.map((adapter) => adapter.dispose()));
    },
  };
}

/**
 * Guide bug 1: the engine sends whole multi-statement scripts (the shadow replay) through
 * executeRaw, and better-sqlite3's prepare() refuses them before running anything. Retry
 * those (argument-less) through executeScript, which uses better-sqlite3's exec().
 */
function runMultiStatementScripts(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const executeRaw = adapter.executeRaw.bind(adapter);
  adapter.executeRaw = async (query) => {
    try {
      return await executeRaw(query);
    } catch (error) {
      if (query.args.length > 0 || !/more than one statement/.test(errorMessage(error))) throw error;
      await adapter.executeScript(query.sql);
      return 0;
    }
  };
  return adapter;
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

/**
 * PostgreSQL. One connection (pool of one) for the main database: the engine takes Prisma's
 * advisory lock (`pg_advisory_lock(72707369)`) on its session before applying migrations and
 * never unlocks, so the lock must live on the connection that runs the migrations and end
 * with it. Concurrent callers therefore wait for each other; close() releases the lock.
 */
function postgresConnection(url: string): Connection {
  // Same parsing of the URL as the runtime client (src/db/client.ts).
  const mainPool = newPool({ connectionString: url, max: 1 });
  const pools = [mainPool];
  const shadowDatabases: string[] = [];

  // Guide bug 3: adapter-pg's own connectToShadowDb drops the shadow database before closing
  // the pool that uses it, and leaks its admin pool. Create and drop it here instead.
  const connectToShadowDb = async (): Promise<SqlDriverAdapter> => {
    const database = `gatehouse_shadow_${randomBytes(6).toString('hex')}`;
    await withAdminClient(url, (client) => client.query(`CREATE DATABASE "${database}"`)).catch((error: unknown) => {
      throw new Error(`cannot create a shadow database (creating PostgreSQL migrations needs CREATEDB): ${errorMessage(error)}`);
    });
    shadowDatabases.push(database);
    // Discrete fields: with a connectionString, pg would ignore `database` (see the guide).
    const pool = newPool({ ...pgConfigFromUrl(url), database, max: 1 });
    pools.push(pool);
    return pgMigrationAdapter(pool);
  };

  let main: Promise<SqlDriverAdapter> | undefined;
  return {
    factory: {
      provider: 'postgres',
      adapterName: '@prisma/adapter-pg',
      connect: () => (main ??= pgMigrationAdapter(mainPool)),
      connectToShadowDb,
    },
    close: async () => {
      await Promise.all(pools.map((pool) => pool.end()));
      for (const database of shadowDatabases) {
        await withAdminClient(url, (client) => client.query(`DROP DATABASE IF EXISTS "${database}"`));
      }
    },
  };
}

function newPool(config: pg.PoolConfig): pg.Pool {
  // No idle timeout: the pool is ended explicitly, and its one session holds the advisory lock.
  const pool = new pg.Pool({ connectionTimeoutMillis: 10_000, idleTimeoutMillis: 0, ...config });
  pool.on('error', () => undefined); // a dropped idle connection surfaces on the next query
  mapCharColumnsToText(pool);
  return pool;
}

/** An adapter over a pool we own: the adapter never ends it (close() does). */
async function pgMigrationAdapter(pool: pg.Pool): Promise<SqlDriverAdapter> {
  const adapter = await new PrismaPg(pool).connect();
  // Guide bug 2: adapter-pg's executeScript splits on every `;` (breaking string literals and
  // $$ bodies) and spreads the pieces over pool connections. An argument-less executeRaw sends
  // the script unsplit, as one simple-protocol query on one connection (so a failing script
  // leaves nothing half-applied, like Prisma's native engine), with adapter-pg's error mapping.
  adapter.executeScript = async (script) => {
    await adapter.executeRaw(rawQuery(script));
  };
  return adapter;
}

/**
 * Guide bug 4: adapter-pg has no mapping for pg_catalog's `"char"` (oid 18), which the
 * engine's introspection selects (e.g. pg_constraint.contype), and fails the whole query.
 * Its values arrive as strings already, so report such columns as text.
 */
function mapCharColumnsToText(pool: pg.Pool): void {
  const query = pool.query.bind(pool) as (config: pg.QueryConfig) => Promise<pg.QueryResult | pg.QueryResult[]>;
  const patched = async (config: pg.QueryConfig) => {
    const result = await query(config);
    for (const { fields } of Array.isArray(result) ? result : [result]) {
      for (const field of fields ?? []) if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
    }
    return result;
  };
  pool.query = patched as typeof pool.query;
}

async function withAdminClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Discrete pg connection fields from a postgresql:// URL (host, port, user, password, database, sslmode). */
function pgConfigFromUrl(url: string): pg.ClientConfig {
  const parsed = new URL(url);
  const param = (name: string) => parsed.searchParams.get(name) ?? undefined;
  const sslmode = param('sslmode');
  return {
    host: param('host') ?? (decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1') || undefined),
    port: parsed.port ? Number(parsed.port) : undefined,
    user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database: parsed.pathname.length > 1 ? decodeURIComponent(parsed.pathname.slice(1)) : undefined,
    ssl: sslmode === undefined || sslmode === 'disable' ? undefined : sslmode === 'no-verify' ? { rejectUnauthorized: false } : true,
  };
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * One-line Error from what the engine throws: its message without the span trace, with
 * "External error id#N" (a JS exception the adapter binding parked in the registry) replaced
 * by that exception's message, and failed migrations named. Keeps the P-code as `code`.
 */
function engineError(error: unknown, registry: ErrorRegistry): Error {
  if (error instanceof WebAssembly.RuntimeError) {
    const panic = panicScope.PRISMA_WASM_PANIC_REGISTRY?.get() || error.message;
    return new Error(`the schema engine crashed: ${oneLine(panic)}`);
  }
  const raw = errorMessage(error);
  const traceStart = raw.search(/^\s+\d+: \S/m);
  const trace = traceStart === -1 ? '' : raw.slice(traceStart);
  let message = (traceStart === -1 ? raw : raw.slice(0, traceStart))
    .replace(/External error id#(\d+)/g, (text, id: string) => {
      const parked = registry.consumeError(Number(id))?.error;
      return parked === undefined ? text : errorMessage(parked);
    })
    .replace(/^external connector error\s*/i, '');
  message = oneLine(message);
  const failedMigration = /Applying migration\s+with migration_name="([^"]+)"/.exec(trace)?.[1];
  if (failedMigration) message = `migration ${failedMigration} failed: ${message}`;
  const code = errorCode(error);
  return Object.assign(new Error(message), code ? { code } : {});
}

function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}
