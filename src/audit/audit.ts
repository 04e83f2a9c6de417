// The one audit writer: every security event becomes a database row and a JSON log line,
// recording who, what, when, from where and the outcome. Details must never carry
// credentials (passwords, secrets, tokens, codes); REDACTED_PATHS in the logger is a second net.
import { randomUUID } from 'node:crypto';
import type { Database } from '../db/client.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { CREDENTIAL_FIELD_NAMES, type Logger } from '../logger.js';
import { insertAuditRows, MAX_ROWS_PER_INSERT, type AuditCompanion, type AuditRow } from './insert-rows.js';
import { safeValue } from './safe-text.js';

/** Every audit event type: the one list (webhook subscriptions are checked against it). */
export const AUDIT_EVENT_TYPES = [
  'login.success',
  'login.failure',
  'account.locked',
  'consent.granted',
  'consent.denied',
  'logout',
  'token.issued',
  'client.auth_failed',
  'refresh.reuse_detected',
  'refresh.account_refused',
  'revocation.refused',
  'code.replay_detected',
  'rate_limit.exceeded',
  'device.code_invalid',
  'device.approved',
  'device.denied',
  'client.created',
  'client.updated',
  'client.deleted',
  'client.secret_rotated',
  'api.created',
  'api.updated',
  'api.deleted',
  'user.created',
  'user.updated',
  'user.unlocked',
  'grant.revoked',
  'key.created',
  'key.retired',
  'webhook.created',
  'webhook.updated',
  'webhook.deleted',
  'webhook.secret_rotated',
  'webhook.endpoint_failing',
  'mail.failed',
  'password_reset.requested',
  'password_reset.completed',
  'password_reset.refused',
  'email.verification_sent',
  'email.verified',
  'email.verification_refused',
  'email_change.requested',
  'email_change.completed',
  'signup.created',
  'signup.refused',
  'session.ended',
  'password.changed',
  'password.change_failed',
  'identity.linked',
  'identity.unlinked',
  'upstream.created',
  'upstream.deleted',
  'upstream.login.failure',
  'upstream.login.success',
  'upstream.updated',
  'mfa.enrolled',
  'mfa.removed',
  'mfa.success',
  'mfa.failure',
  'mfa.recovery_code_used',
  'mfa.recovery_codes_generated',
  'mfa.reset',
] as const;

type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

export type AuditEvent = {
  type: AuditEventType;
  outcome: 'success' | 'failure';
  subject?: string | null;
  clientId?: string | null;
  ip?: string | null;
  details?: Record<string, string | number | boolean | null | string[]>;
};

export type AuditWriter = ((event: AuditEvent) => Promise<void>) & {
  /** Resolves once every event handed over so far is stored (shutdown calls it before closing the database). */
  drain?: () => Promise<void>;
};

/**
 * `observe` sees every event as it is written (metrics counters, src/metrics/metrics.ts).
 * `companions` add statements that commit in the same transaction as each batch of rows (a
 * feature's outbox, wired in src/gatehouse.ts and src/cli/context.ts; insert-rows.ts).
 *
 * Rows are batched: events arriving while the event loop is busy (under load, many requests at
 * once) are stored by one multi-row INSERT on the next turn of the loop instead of one INSERT
 * each (insert-rows.ts says why that INSERT is raw SQL rather than createMany). The promise an event's writer returns still
 * resolves only once its row is stored, so a caller that awaits it sees the row; the log line is
 * written at once, as before.
 */
/**
 * The audit log line's details with any field named like a credential censored. The other fields
 * of the line are fixed (id, type, outcome, subject, clientId, ip, at) and never credentials, so
 * the line skips pino's redaction pass (which walks every redacted path on every line, about a
 * third of the writer's main-thread time in the client-credentials profile, and whose `*.name`
 * paths never reached into `audit.details` anyway); this check is the net for details instead.
 */
function censoredDetails(details: AuditRow['details']): AuditRow['details'] {
  if (!details) return details;
  let censored: Record<string, unknown> | undefined;
  for (const key of Object.keys(details)) {
    if (CREDENTIAL_FIELD_NAMES.has(key)) (censored ??= { ...details })[key] = '[redacted]';
  }
  return censored ?? details;
}

export function createAuditWriter(
  db: Pick<Database, 'prisma' | 'sql' | 'provider'>,
  logger: Logger,
  observe?: (event: AuditEvent) => void,
  companions: readonly AuditCompanion[] = [],
): AuditWriter {
  const auditLog = logger.child({}, { redact: [] });
  let queue: { row: AuditRow; done: () => void }[] = [];
  let scheduled: Promise<void> | undefined;

  const insertOne = async (row: AuditRow): Promise<void> => {
    try {
      await insertAuditRows(db, [row], companions);
    } catch (err) {
      // An audit row must not take a sign-in down with it; the log line still exists.
      logger.error({ err, auditType: row.type, auditId: row.id }, 'failed to store audit event');
    }
  };
  const flush = async (): Promise<void> => {
    while (queue.length) {
      const batch = queue.slice(0, MAX_ROWS_PER_INSERT);
      queue = queue.slice(batch.length);
      try {
        await insertAuditRows(db, batch.map((b) => b.row), companions);
      } catch (err) {
        if (isDatabaseUnavailable(err)) {
          // Nothing can be stored now; retrying row by row would only wait out each timeout.
          for (const b of batch) logger.error({ err, auditType: b.row.type, auditId: b.row.id }, 'failed to store audit event');
        } else {
          // One refused row fails the whole INSERT: store the rows one by one so that it costs
          // no other row of the batch (a stranger's bad input must not hide a victim's events).
          for (const b of batch) await insertOne(b.row);
        }
      }
      for (const b of batch) b.done();
    }
  };
  const schedule = () =>
    (scheduled ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(flush)
      .finally(() => {
        scheduled = undefined;
        if (queue.length) void schedule();
      }));

  const write = (event: AuditEvent): Promise<void> => {
    observe?.(event);
    // Escaped (safe-text.ts): a value the database refuses would otherwise lose the row.
    const row: AuditRow = {
      id: randomUUID(),
      type: event.type,
      outcome: event.outcome,
      subject: safeValue(event.subject ?? null),
      clientId: safeValue(event.clientId ?? null),
      ip: safeValue(event.ip ?? null),
      details: safeValue(event.details ?? null),
      at: new Date(),
    };
    auditLog.info({ audit: { ...row, details: censoredDetails(row.details), at: row.at.toISOString() } }, `audit ${event.type}`);
    return new Promise<void>((resolve) => {
      queue.push({ row, done: resolve });
      void schedule();
    });
  };
  return Object.assign(write, {
    drain: async () => {
      while (scheduled || queue.length) await (scheduled ?? schedule());
    },
  });
}
