// The driver adapters the schema engine runs over, with the adapters' shortcomings for
// migrations worked around (each explained where it is handled).
import { randomBytes } from 'node:crypto';
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory, SqlQuery } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { errorMessage } from './errors.js';

/** The adapter factory the engine drives, and how to release everything it opened. */
export type Connection = { factory: SqlMigrationAwareDriverAdapterFactory; close(): Promise<void> };

/** Tracks adapters so that close() releases them even when the engine did not. */
function disposeOnce(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const dispose = adapter.dispose.bind(adapter);
  let disposed: Promise<void> | undefined;
  adapter.dispose = () => (disposed ??= dispose());
  return adapter;
}

export function sqliteConnection(file: string): Connection {
  // The shadow is a fresh in-memory database per connection, so it needs no reset
  // (the wasm engine's reset is a no-op on SQLite) and no cleanup.
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
 * The engine sends whole multi-statement scripts (the shadow replay) through
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
export function postgresConnection(url: string): Connection {
  // Same parsing of the URL as the runtime client (src/db/client.ts).
  const mainPool = newPool({ connectionString: url, max: 1 });
  const pools = [mainPool];
  const shadowDatabases: string[] = [];

  // adapter-pg's own connectToShadowDb drops the shadow database before closing
  // the pool that uses it, and leaks its admin pool. Create and drop it here instead.
  const connectToShadowDb = async (): Promise<SqlDriverAdapter> => {
    const database = `gatehouse_shadow_${randomBytes(6).toString('hex')}`;
    await withAdminClient(url, (client) => client.query(`CREATE DATABASE "${database}"`)).catch((error: unknown) => {
      throw new Error(`cannot create a shadow database (creating PostgreSQL migrations needs CREATEDB): ${errorMessage(error)}`);
    });
    shadowDatabases.push(database);
    // Discrete fields: with a connectionString, pg would ignore `database` (pg lets connectionString override it).
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
  // adapter-pg's executeScript splits on every `;` (breaking string literals and
  // $$ bodies) and spreads the pieces over pool connections. An argument-less executeRaw sends
  // the script unsplit, as one simple-protocol query on one connection (so a failing script
  // leaves nothing half-applied, like Prisma's native engine), with adapter-pg's error mapping.
  adapter.executeScript = async (script) => {
    await adapter.executeRaw(rawQuery(script));
  };
  return adapter;
}

/**
 * adapter-pg has no mapping for pg_catalog's `"char"` (oid 18), which the
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


export async function appliedMigrationNames(adapter: SqlDriverAdapter): Promise<string[]> {
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
