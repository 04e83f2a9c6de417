// Stores audit rows with one multi-row INSERT, sent straight to Prisma's driver adapter (src/db/direct-sql.ts).
//
// Why not `auditEvent.createMany`: profiling the client-credentials benchmark (one audit row per
// token) showed createMany costing about 0.18 ms of main-thread time per row on SQLite (Prisma's
// query compiler builds and validates every row), more than a third of what the whole token
// request costs; the same rows as one parameterised INSERT cost a few microseconds each. The
// columns are encoded as Prisma itself writes them (src/db/raw-sql.ts), so reads through the
// model API see identical rows (test/audit covers both databases).
import type { Database } from '../db/client.js';
import type { DbKind } from '../db/migrations/paths.js';
import { jsonParameter, parameter, timestampParameter, timestampValue } from '../db/raw-sql.js';

export type AuditRow = {
  id: string;
  type: string;
  outcome: string;
  subject: string | null;
  clientId: string | null;
  ip: string | null;
  details: Record<string, unknown> | null;
  at: Date;
};

/** A raw statement with its bind values, in the provider's placeholder syntax (src/db/raw-sql.ts). */
export type RawStatement = { sql: string; values: (string | number | null)[] };

/**
 * Writes that must commit, or fail, together with the audit rows they follow: given the rows of
 * one INSERT, the statements to run in the same transaction (an outbox: src/webhooks). A feature
 * passes one in where the writer is built, so audit never imports a feature. On PostgreSQL a
 * statement's placeholders start after `firstParameter - 1` others (see insertAuditRows).
 */
export type AuditCompanion = (rows: readonly AuditRow[], provider: DbKind, firstParameter: number) => RawStatement[];

const COLUMNS = '"id", "type", "outcome", "subject", "clientId", "ip", "details", "at"';

/** Rows per INSERT at most: 8 parameters each stays far below SQLite's and PostgreSQL's limits. */
export const MAX_ROWS_PER_INSERT = 500;

export async function insertAuditRows(db: Pick<Database, 'prisma' | 'sql' | 'provider'>, rows: AuditRow[], companions: readonly AuditCompanion[] = []): Promise<void> {
  if (rows.length === 0) return;
  const { provider } = db;
  const values: (string | null)[] = [];
  const tuples = rows.map((row, index) => {
    values.push(row.id, row.type, row.outcome, row.subject, row.clientId, row.ip);
    values.push(row.details === null ? null : JSON.stringify(row.details), timestampValue(provider, row.at));
    const n = index * 8;
    const text = [1, 2, 3, 4, 5, 6].map((i) => parameter(provider, n + i));
    return `(${[...text, jsonParameter(provider, n + 7), timestampParameter(provider, n + 8)].join(', ')})`;
  });
  const insert = `INSERT INTO "AuditEvent" (${COLUMNS}) VALUES ${tuples.join(', ')}`;
  if (companions.length === 0) {
    await db.sql.execute(insert, values);
    return;
  }
  if (provider === 'postgresql') {
    // One statement (data-modifying CTEs, each numbered after the ones before it): atomic by
    // itself, without a transaction's extra round trips on the audit path.
    const parts = [`audit_rows AS (${insert})`];
    const all: (string | number | null)[] = [...values];
    for (const companion of companions) {
      for (const statement of companion(rows, provider, all.length + 1)) {
        parts.push(`companion_${parts.length} AS (${statement.sql})`);
        all.push(...statement.values);
      }
    }
    await db.sql.execute(`WITH ${parts.join(', ')} SELECT 1`, all);
    return;
  }
  const following = companions.flatMap((companion) => companion(rows, provider, 1));
  await db.prisma.$transaction([
    db.prisma.$executeRawUnsafe(insert, ...values),
    ...following.map((statement) => db.prisma.$executeRawUnsafe(statement.sql, ...statement.values)),
  ]);
}
