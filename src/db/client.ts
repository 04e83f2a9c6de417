// One Prisma client per process, for the provider named by DATABASE_URL.
// The provider is fixed when a client is generated, so each database has its own generated
// client (src/db/generated/{sqlite,postgresql}); both come from identical models.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PrismaClient as SqliteClient } from './generated/sqlite/client.js';
import type { DbKind } from './migrations/paths.js';
import { sharedAdapter, type DirectSql } from './direct-sql.js';

/**
 * The client type the rest of the code is written against. Both generated clients expose the
 * same model API (the schemas are kept identical by test/db/schema-drift.test.ts), so the
 * PostgreSQL client is used through the SQLite client's type.
 */
export type Db = SqliteClient;

export type Database = {
  provider: DbKind;
  /** The DATABASE_URL it was opened with. */
  url: string;
  prisma: Db;
  /** Raw statements on Prisma's own connection, without its runtime (src/db/direct-sql.ts). */
  sql: DirectSql;
  close(): Promise<void>;
};

export type DatabaseOptions = {
  /** PostgreSQL pool size per process. */
  poolSize?: number;
  /** PostgreSQL: how long acquiring a connection may take before the query fails (default 3 s). */
  connectTimeoutMs?: number;
  onPoolError?: (error: Error) => void;
};

/** `file:./data/x.db` -> absolute path, resolved from the working directory as Prisma does. */
function sqliteFilePath(url: string): string {
  return path.resolve(url.replace(/^file:/, '').replace(/\?.*$/, ''));
}

export async function openDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  if (url.startsWith('file:')) {
    const file = sqliteFilePath(url);
    mkdirSync(path.dirname(file), { recursive: true });
    // busy timeout: concurrent writers (several processes, the CLI beside a server) wait
    // for the lock instead of surfacing SQLITE_BUSY to clients.
    // Driver modules load on demand: a process uses one database, and each CLI command is a
    // process start, so not loading the other driver saves a noticeable fraction of a second.
    const { PrismaBetterSqlite3 } = await import('@prisma/adapter-better-sqlite3');
    const shared = sharedAdapter(new PrismaBetterSqlite3({ url: file, timeout: 5000 }), () => prisma.$connect());
    const prisma = new SqliteClient({ adapter: shared.factory });
    // WAL lets readers proceed while one writer commits; it persists in the file.
    await prisma.$queryRawUnsafe('PRAGMA journal_mode = WAL');
    await prisma.$queryRawUnsafe('PRAGMA foreign_keys = ON');
    // With WAL, NORMAL syncs at checkpoints rather than at every commit: the database cannot be
    // corrupted by a crash, and only the last commits before a power loss (not a process crash)
    // may be lost. Every token, audit row and sign-in is a commit, so FULL made fsync the
    // token endpoint's bottleneck on SQLite.
    await prisma.$queryRawUnsafe('PRAGMA synchronous = NORMAL');
    return { provider: 'sqlite', url, prisma, sql: shared.sql, close: () => prisma.$disconnect() };
  }
  const [{ PrismaPg }, { PrismaClient: PostgresClient }] = await Promise.all([
    import('@prisma/adapter-pg'),
    import('./generated/postgresql/client.js'),
  ]);
  const shared = sharedAdapter(
    new PrismaPg(
      { connectionString: url, max: options.poolSize ?? 10, connectionTimeoutMillis: options.connectTimeoutMs ?? 3000 },
      { onPoolError: options.onPoolError ?? (() => undefined) },
    ),
    () => prisma.$connect(),
  );
  const prisma = new PostgresClient({ adapter: shared.factory }) as unknown as Db;
  return { provider: 'postgresql', url, prisma, sql: shared.sql, close: () => prisma.$disconnect() };
}

/** True when the database answers a trivial query (readiness probe). */
export async function isDatabaseReachable(db: Database): Promise<boolean> {
  try {
    await db.prisma.$queryRawUnsafe('SELECT 1');
    return true;
  } catch {
    return false;
  }
}
