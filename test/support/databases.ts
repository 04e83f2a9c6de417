// A fresh, migrated database per test file, on either provider.
import { copyFileSync, mkdtempSync } from 'node:fs';
import path from 'node:path';
import { dropDatabase, pgUrlFor, uniqueDatabaseName, withAdmin } from './postgres.js';

export type Provider = 'sqlite' | 'postgresql';
export const PROVIDERS: Provider[] = ['sqlite', 'postgresql'];

export type TestDatabase = { provider: Provider; url: string; drop(): Promise<void> };

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: tests must run through jest's globalSetup`);
  return value;
}

export async function freshDatabase(provider: Provider): Promise<TestDatabase> {
  if (provider === 'sqlite') {
    const dir = mkdtempSync(path.join(required('GATEHOUSE_TEST_RUN_DIR'), 'db-'));
    const file = path.join(dir, 'gatehouse.db');
    copyFileSync(required('GATEHOUSE_TEST_SQLITE_TEMPLATE'), file);
    return { provider, url: `file:${file}`, drop: async () => undefined };
  }
  const template = required('GATEHOUSE_TEST_PG_TEMPLATE');
  // Named after the template so that global teardown finds leftovers of this run.
  const name = uniqueDatabaseName(template.replace('gh_tpl', 'gh_t'));
  await withAdmin((client) => client.query(`CREATE DATABASE "${name}" TEMPLATE "${template}"`));
  return { provider, url: pgUrlFor(name), drop: () => dropDatabase(name) };
}
