// Stores audit rows with one multi-row INSERT through Prisma's raw query path.
//
// Why not `auditEvent.createMany`: profiling the client-credentials benchmark (one audit row per
// token) showed createMany costing about 0.18 ms of main-thread time per row on SQLite (Prisma's
// query compiler builds and validates every row), more than a third of what the whole token
// request costs; the same rows as one parameterised INSERT cost a few microseconds each. The
// columns are encoded as Prisma itself writes them (src/db/raw-sql.ts), so reads through the
// model API see identical rows (test/audit covers both databases).
import type { Database } from '../db/client.js';
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

const COLUMNS = '"id", "type", "outcome", "subject", "clientId", "ip", "details", "at"';

/** Rows per INSERT at most: 8 parameters each stays far below SQLite's and PostgreSQL's limits. */
export const MAX_ROWS_PER_INSERT = 500;

export async function insertAuditRows(db: Pick<Database, 'prisma' | 'provider'>, rows: AuditRow[]): Promise<void> {
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
  await db.prisma.$executeRawUnsafe(`INSERT INTO "AuditEvent" (${COLUMNS}) VALUES ${tuples.join(', ')}`, ...values);
}
