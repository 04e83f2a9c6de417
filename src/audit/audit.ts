// The one audit writer: every security event becomes a database row and a JSON log line,
// recording who, what, when, from where and the outcome. Details must never carry
// credentials (passwords, secrets, tokens, codes); REDACTED_PATHS in the logger is a second net.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';

export type AuditEventType =
  | 'login.success'
  | 'login.failure'
  | 'account.locked'
  | 'consent.granted'
  | 'consent.denied'
  | 'logout'
  | 'token.issued'
  | 'client.auth_failed'
  | 'refresh.reuse_detected'
  | 'refresh.account_refused'
  | 'rate_limit.exceeded'
  | 'device.code_invalid'
  | 'device.approved'
  | 'device.denied'
  | 'client.created'
  | 'client.updated'
  | 'client.deleted'
  | 'client.secret_rotated'
  | 'api.created'
  | 'api.updated'
  | 'api.deleted'
  | 'user.created'
  | 'user.updated'
  | 'user.unlocked'
  | 'grant.revoked'
  | 'key.created'
  | 'key.retired';

export type AuditEvent = {
  type: AuditEventType;
  outcome: 'success' | 'failure';
  subject?: string | null;
  clientId?: string | null;
  ip?: string | null;
  details?: Record<string, string | number | boolean | null | string[]>;
};

export type AuditWriter = (event: AuditEvent) => Promise<void>;

/** `observe` sees every event as it is written (metrics counters, src/metrics/metrics.ts). */
export function createAuditWriter(prisma: Db, logger: Logger, observe?: (event: AuditEvent) => void): AuditWriter {
  return async (event) => {
    observe?.(event);
    const row = {
      id: randomUUID(),
      type: event.type,
      outcome: event.outcome,
      subject: event.subject ?? null,
      clientId: event.clientId ?? null,
      ip: event.ip ?? null,
      details: event.details ?? undefined,
      at: new Date(),
    };
    logger.info({ audit: { ...row, at: row.at.toISOString() } }, `audit ${event.type}`);
    try {
      await prisma.auditEvent.create({ data: row });
    } catch (err) {
      // An audit row must not take a sign-in down with it; the log line above still exists.
      logger.error({ err, auditType: event.type }, 'failed to store audit event');
    }
  };
}
