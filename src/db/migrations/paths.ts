// Where a database and its migrations are: cheap to import, unlike the migration engine, so
// start-up and CLI commands can check the schema without loading the engine.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The two databases Gatehouse runs on (one generated Prisma client each). */
export type DbKind = 'sqlite' | 'postgresql';
/** Where the migrations and the schema come from; defaults are the project's own. */
export type MigrationSource = { migrationsDir?: string; schemaPath?: string };

export type DatabaseTarget = { provider: 'sqlite'; file: string } | { provider: 'postgresql'; url: string };

/** src/db/migrations/*.ts and dist/db/migrations/*.js both sit three levels below the project root. */
const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `file:./x.db` → SQLite (path resolved from the working directory, as src/db/client.ts does); `postgres(ql)://` → PostgreSQL. */
export function databaseTargetFromUrl(url: string): DatabaseTarget {
  if (url.startsWith('file:')) {
    return { provider: 'sqlite', file: path.resolve(process.cwd(), url.slice('file:'.length).replace(/\?.*$/, '')) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { provider: 'postgresql', url };
  // Only the scheme is echoed: the URL may carry a password.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  throw new Error(
    `unsupported database URL ${scheme ? `scheme "${scheme}"` : '(no scheme)'}: expected file:<path> (SQLite) or postgresql://… (PostgreSQL)`,
  );
}

export function migrationsDirFor(provider: DbKind): string {
  return path.join(PROJECT_ROOT, provider === 'sqlite' ? 'prisma/migrations' : 'prisma/postgresql/migrations');
}

export function schemaPathFor(provider: DbKind): string {
  return path.join(PROJECT_ROOT, provider === 'sqlite' ? 'prisma/schema.prisma' : 'prisma/postgresql/schema.prisma');
}
