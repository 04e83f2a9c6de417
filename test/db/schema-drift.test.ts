// prisma/postgresql/schema.prisma is derived from prisma/schema.prisma; they must not drift.
import { readFileSync } from 'node:fs';
import { DERIVED, SOURCE, derivePostgresqlSchema } from '../../prisma/derive-postgresql.js';

test('the committed PostgreSQL schema is exactly what the SQLite source derives to', () => {
  const expected = derivePostgresqlSchema(readFileSync(SOURCE, 'utf8'));
  // On failure: run `npm run db:schema:derive` and commit the result (and a migration).
  expect(readFileSync(DERIVED, 'utf8')).toBe(expected);
});

test('the two schemas declare the same models', () => {
  const models = (text: string) => [...text.matchAll(/^model (\w+) \{/gm)].map((m) => m[1]);
  expect(models(readFileSync(DERIVED, 'utf8'))).toEqual(models(readFileSync(SOURCE, 'utf8')));
});
