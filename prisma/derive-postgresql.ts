// Derives prisma/postgresql/schema.prisma from prisma/schema.prisma (the source).
// The models are identical; only the datasource provider and the client output differ.
// test/schema-drift.test.ts fails when the committed derived file is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SOURCE = fileURLToPath(new URL('./schema.prisma', import.meta.url));
export const DERIVED = fileURLToPath(new URL('./postgresql/schema.prisma', import.meta.url));

export function derivePostgresqlSchema(source: string): string {
  const replaced = source
    .replace(/^\/\/ Gatehouse data model\. THIS FILE IS THE SOURCE:.*\n\/\/ from it by .*\n/m,
      '// GENERATED from prisma/schema.prisma by `npm run db:schema:derive`. Do not edit.\n')
    .replace('output                 = "../src/db/generated/sqlite"', 'output                 = "../../src/db/generated/postgresql"')
    .replace('provider = "sqlite"', 'provider = "postgresql"');
  if (!replaced.includes('provider = "postgresql"') || !replaced.includes('generated/postgresql')) {
    throw new Error('prisma/schema.prisma no longer has the expected datasource or generator block');
  }
  return replaced;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(DERIVED, derivePostgresqlSchema(readFileSync(SOURCE, 'utf8')));
  console.log(`wrote ${DERIVED}`);
}
