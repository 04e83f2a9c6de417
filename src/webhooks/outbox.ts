// The outbox: rows of WebhookDelivery, each one message to deliver. Webhook rows are written by
// the audit writer's companion below, in the same transaction as the audit rows they carry, so an
// event is either stored with its deliveries or not at all. Which endpoints get an event is chosen
// by the INSERT ... SELECT itself (subscriptions joined in the database), so an endpoint created a
// moment ago by another process gets the next event.
import type { AuditCompanion, AuditRow, RawStatement } from '../audit/insert-rows.js';
import type { Db } from '../db/client.js';
import type { DbKind } from '../db/migrations/paths.js';
import { parameter, timestampParameter, timestampValue } from '../db/raw-sql.js';

export type DeliveryKind = 'webhook' | 'backchannel-logout';

/** A subscription to every event type. */
export const ALL_EVENTS = '*';

/**
 * The body of a webhook (Standard Webhooks' recommended shape: type, timestamp, data): the audit
 * event as stored, which never carries a credential (src/audit/audit.ts).
 */
function webhookPayload(row: Pick<AuditRow, 'id' | 'type' | 'outcome' | 'subject' | 'clientId' | 'details' | 'at'>): string {
  return JSON.stringify({
    type: row.type,
    timestamp: row.at.toISOString(),
    data: { id: row.id, type: row.type, outcome: row.outcome, subject: row.subject, client_id: row.clientId, time: row.at.toISOString(), details: row.details ?? {} },
  });
}

/** The webhook-id of an event's message to one endpoint: the same on every attempt. */
const MESSAGE_ID_SQL = `'msg_' || e.column1 || '_' || w."id"`;

function outboxStatement(rows: readonly AuditRow[], provider: DbKind, firstParameter: number): RawStatement {
  const values: string[] = [];
  const tuples = rows.map((row, index) => {
    values.push(row.id, row.type, webhookPayload(row), timestampValue(provider, row.at));
    const n = firstParameter - 1 + index * 4;
    return `(${parameter(provider, n + 1)}, ${parameter(provider, n + 2)}, ${parameter(provider, n + 3)}, ${timestampParameter(provider, n + 4)})`;
  });
  // VALUES columns are named column1.. on both SQLite and PostgreSQL. DISTINCT: an endpoint
  // subscribed to "*" and to the type itself still gets one message.
  const sql =
    `INSERT INTO "WebhookDelivery" ("id", "kind", "endpointId", "url", "eventType", "payload", "status", "attempts", "nextAttemptAt", "createdAt") ` +
    `SELECT DISTINCT ${MESSAGE_ID_SQL}, 'webhook', w."id", w."url", e.column2, e.column3, 'pending', 0, e.column4, e.column4 ` +
    `FROM (VALUES ${tuples.join(', ')}) AS e ` +
    `JOIN "WebhookSubscription" s ON s."eventType" = e.column2 OR s."eventType" = '${ALL_EVENTS}' ` +
    `JOIN "WebhookEndpoint" w ON w."id" = s."endpointId" ` +
    `WHERE NOT w."disabled"`;
  return { sql, values };
}

/** The audit writer's companion (wired in src/gatehouse.ts and src/cli/context.ts). */
export const webhookOutbox: AuditCompanion = (rows, provider, firstParameter) => (rows.length ? [outboxStatement(rows, provider, firstParameter)] : []);

export type NewDelivery = {
  id: string;
  kind: DeliveryKind;
  endpointId?: string | null;
  clientId?: string | null;
  url: string;
  eventType: string;
  payload: string;
};

/** Rows written outside an audit batch (a test message, back-channel logout tokens). */
export async function enqueueDeliveries(prisma: Db, deliveries: readonly NewDelivery[], now = new Date()): Promise<void> {
  if (deliveries.length === 0) return;
  await prisma.webhookDelivery.createMany({
    data: deliveries.map((d) => ({
      id: d.id,
      kind: d.kind,
      endpointId: d.endpointId ?? null,
      clientId: d.clientId ?? null,
      url: d.url,
      eventType: d.eventType,
      payload: d.payload,
      status: 'pending',
      nextAttemptAt: now,
      createdAt: now,
    })),
  });
}

/** For metrics: messages waiting and the age of the oldest, in seconds. */
export async function outboxBacklog(prisma: Db, now = new Date()): Promise<{ pending: number; oldestPendingSeconds: number }> {
  const [pending, oldest] = await Promise.all([
    prisma.webhookDelivery.count({ where: { status: 'pending' } }),
    prisma.webhookDelivery.findFirst({ where: { status: 'pending' }, orderBy: { createdAt: 'asc' }, select: { createdAt: true } }),
  ]);
  return { pending, oldestPendingSeconds: oldest ? Math.max(0, (now.getTime() - oldest.createdAt.getTime()) / 1000) : 0 };
}
