// Once per `npm test`: migrate a PostgreSQL template database and an SQLite template file.
// Test files copy them, so each file gets an isolated, already-migrated database quickly.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyMigrations } from '../../src/db/migrations.js';
import { pgUrlFor, uniqueDatabaseName, withAdmin } from './postgres.js';

export default async function globalSetup(): Promise<void> {
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
