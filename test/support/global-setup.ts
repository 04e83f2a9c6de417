// Once per `npm test`: migrate a PostgreSQL template database and an SQLite template file.
// Test files copy them, so each file gets an isolated, already-migrated database quickly.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyMigrations } from '../../src/db/migrations/migrate.js';
import { pgUrlFor, uniqueDatabaseName, withAdmin } from './postgres.js';

/** The admin CLI tests run the built CLI, the artifact `npm start` and the `gatehouse` bin use. */
function buildDist(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], {
    cwd: root,
    stdio: 'inherit',
  });
}

export default async function globalSetup(): Promise<void> {
  buildDist();
  const runDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-test-'));
  mkdirSync(runDir, { recursive: true });
  const sqliteTemplate = path.join(runDir, 'template.db');
  await applyMigrations({ provider: 'sqlite', file: sqliteTemplate });

  const pgTemplate = uniqueDatabaseName('gh_tpl');
  await withAdmin((client) => client.query(`CREATE DATABASE "${pgTemplate}"`));
  await applyMigrations({ provider: 'postgresql', url: pgUrlFor(pgTemplate) });

  process.env.GATEHOUSE_TEST_RUN_DIR = runDir;
  process.env.GATEHOUSE_TEST_SQLITE_TEMPLATE = sqliteTemplate;
  process.env.GATEHOUSE_TEST_PG_TEMPLATE = pgTemplate;
}
