// The delivery worker: every instance runs one. It claims due outbox rows with a lease (one
// conditional UPDATE: FOR UPDATE SKIP LOCKED on PostgreSQL, so instances never wait on each
// other's rows; on SQLite the single UPDATE ... RETURNING is atomic under its one writer), sends
// each in the background, and records the outcome. A crash leaves the lease to run out and the
// row is claimed again, with the same id: delivery is at least once, never lost. Nothing here
// runs on the request path, so a slow receiver never slows sign-in or token requests.
import { randomUUID } from 'node:crypto';
import type { AuditWriter } from '../audit/audit.js';
import type { GatehouseConfig } from '../config.js';
import type { Db } from '../db/client.js';
import type { DbKind } from '../db/migrations/paths.js';
import { parameter, timestampParameter, timestampValue } from '../db/raw-sql.js';
import type { Logger } from '../logger.js';
import { runEvery } from '../util/run-every.js';
import { sendRequest, type OutgoingRequest, type SendResult } from './send.js';
import type { DeliveryKind } from './outbox.js';

export type DeliveryRow = {
  id: string;
  kind: string;
  endpointId: string | null;
  clientId: string | null;
  url: string;
  eventType: string;
  payload: string;
  attempts: number;
  createdAt: Date;
};

/** Builds the request for a row; null when there is nothing to send any more (endpoint deleted). */
export type Renderer = (row: DeliveryRow) => Promise<OutgoingRequest | null>;

export type DeliveryOutcome = 'delivered' | 'retry' | 'failed';

export type WorkerDependencies = {
  prisma: Db;
  provider: DbKind;
  config: Pick<GatehouseConfig, 'webhooks'>;
  logger: Logger;
  audit: AuditWriter;
  renderers: Record<DeliveryKind, Renderer>;
  /** Metrics: one call per attempt. */
  observe?: (kind: string, outcome: DeliveryOutcome | 'refused') => void;
};

function hostOfUrl(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

/** Rows one instance sends at once at most. */
const MAX_IN_FLIGHT = 16;
/** The longest wait between two attempts. */
const MAX_RETRY_DELAY_SECONDS = 3600;
/** Attempts of a row delivered or given up are kept this long (`webhook deliveries`), then deleted. */
const HISTORY_SECONDS = 30 * 86_400;

/**
 * Delay before retry `n` (1 = the first retry): the initial delay doubled each time, capped at
 * an hour, then drawn uniformly from its upper half, so receivers coming back are not hit by
 * every instance's retries at the same moment.
 */
function retryDelaySeconds(n: number, initialSeconds: number, random = Math.random): number {
  const full = Math.min(initialSeconds * 2 ** Math.min(n - 1, 30), MAX_RETRY_DELAY_SECONDS);
  return full / 2 + random() * (full / 2);
}

/** A lease outlasts any attempt (which the timeout bounds), so only a dead instance's lease runs out. */
function leaseSeconds(timeoutSeconds: number): number {
  return 2 * timeoutSeconds + 5;
}

/** Claims up to `limit` due rows for `owner`; returns their ids. */
export async function claimDue(prisma: Db, provider: DbKind, owner: string, limit: number, now = new Date(), lease = 30, onlyId?: string): Promise<string[]> {
  // Values are bound in the order the placeholders appear (SQLite's `?` are positional).
  const values: (string | number)[] = [];
  const bind = (value: string | number) => {
    values.push(value);
    return parameter(provider, values.length);
  };
  const at = (date: Date) => {
    values.push(timestampValue(provider, date));
    return timestampParameter(provider, values.length);
  };
  const sql =
    `UPDATE "WebhookDelivery" SET "leaseUntil" = ${at(new Date(now.getTime() + lease * 1000))}, "leaseOwner" = ${bind(owner)}, "attempts" = "attempts" + 1 ` +
    `WHERE "id" IN (` +
    `SELECT d."id" FROM "WebhookDelivery" d WHERE d."status" = 'pending' AND d."nextAttemptAt" <= ${at(now)} ` +
    `AND (d."leaseUntil" IS NULL OR d."leaseUntil" < ${at(now)}) ` +
    (onlyId === undefined ? '' : `AND d."id" = ${bind(onlyId)} `) +
    `AND (d."endpointId" IS NULL OR EXISTS (SELECT 1 FROM "WebhookEndpoint" w WHERE w."id" = d."endpointId" AND NOT w."disabled")) ` +
    `ORDER BY d."nextAttemptAt" LIMIT ${bind(limit)}${provider === 'postgresql' ? ' FOR UPDATE OF d SKIP LOCKED' : ''}` +
    `) AND "status" = 'pending' AND ("leaseUntil" IS NULL OR "leaseUntil" < ${at(now)}) RETURNING "id"`;
  const rows = await prisma.$queryRawUnsafe<{ id: string }[]>(sql, ...values);
  return rows.map((row) => row.id);
}

export type OutboxWorker = {
  /** Stops claiming and waits for the attempts under way (bounded by their timeout). */
  stop(): Promise<void>;
};

function createOutboxWorker(deps: WorkerDependencies): { attempt: (row: DeliveryRow) => Promise<DeliveryOutcome>; poll: () => Promise<Promise<unknown>[]>; owner: string } {
  const { prisma, provider, config, logger } = deps;
  const settings = config.webhooks;
  const owner = `instance-${randomUUID()}`;
  let inFlight = 0;

  const recordFailure = async (row: DeliveryRow, result: SendResult & { ok: false }, now: Date): Promise<DeliveryOutcome> => {
    const retryAt = new Date(now.getTime() + retryDelaySeconds(row.attempts, settings.retryInitialDelaySeconds) * 1000);
    const expired = result.refused || retryAt.getTime() > row.createdAt.getTime() + settings.retryPeriodSeconds * 1000;
    await prisma.webhookDelivery.update({
      where: { id: row.id },
      data: {
        status: expired ? 'failed' : 'pending',
        nextAttemptAt: expired ? now : retryAt,
        leaseUntil: null,
        leaseOwner: null,
        lastStatus: result.status,
        lastError: result.error.slice(0, 500),
      },
    });
    if (row.endpointId) await countEndpointFailure(row.endpointId);
    return expired ? 'failed' : 'retry';
  };

  const countEndpointFailure = async (endpointId: string) => {
    await prisma.webhookEndpoint.updateMany({ where: { id: endpointId }, data: { consecutiveFailures: { increment: 1 } } });
    // One conditional update decides which attempt marks the endpoint failing: audited once.
    const marked = await prisma.webhookEndpoint.updateMany({
      where: { id: endpointId, failing: false, consecutiveFailures: { gte: settings.failingAfter } },
      data: { failing: true },
    });
    if (marked.count === 1) {
      await deps.audit({ type: 'webhook.endpoint_failing', outcome: 'failure', details: { endpoint_id: endpointId, consecutive_failures: settings.failingAfter } });
    }
  };

  const attempt = async (row: DeliveryRow): Promise<DeliveryOutcome> => {
    const renderer = deps.renderers[row.kind as DeliveryKind];
    const now = new Date();
    let request: OutgoingRequest | null;
    try {
      request = renderer ? await renderer(row) : null;
    } catch (err) {
      // Nothing could be sent (no active signing key, say): an attempt that failed, retried.
      logger.warn({ err, deliveryId: row.id }, 'webhook message could not be built');
      const outcome = await recordFailure(row, { ok: false, status: null, error: `could not build the message: ${(err as Error).message}` }, now);
      deps.observe?.(row.kind, outcome);
      return outcome;
    }
    if (!request) {
      await prisma.webhookDelivery.update({
        where: { id: row.id },
        data: { status: 'failed', leaseUntil: null, leaseOwner: null, lastError: 'nothing to send it to any more' },
      });
      return 'failed';
    }
    const result = await sendRequest(request, { timeoutMs: settings.timeoutSeconds * 1000, allowTargets: settings.allowTargets });
    if (result.ok) {
      await prisma.webhookDelivery.update({
        where: { id: row.id },
        data: { status: 'delivered', deliveredAt: new Date(), leaseUntil: null, leaseOwner: null, lastStatus: result.status, lastError: null },
      });
      if (row.endpointId) {
        await prisma.webhookEndpoint.updateMany({ where: { id: row.endpointId }, data: { consecutiveFailures: 0, failing: false } });
      }
      deps.observe?.(row.kind, 'delivered');
      return 'delivered';
    }
    // The host only: a receiver's URL may carry a credential of its own (in its path or query).
    if (result.refused) logger.warn({ deliveryId: row.id, host: hostOfUrl(request.url), reason: result.error }, 'webhook target refused');
    const outcome = await recordFailure(row, result, now);
    deps.observe?.(row.kind, result.refused ? 'refused' : outcome);
    return outcome;
  };

  const poll = async (): Promise<Promise<unknown>[]> => {
    const room = MAX_IN_FLIGHT - inFlight;
    if (room <= 0) return [];
    const ids = await claimDue(prisma, provider, owner, room, new Date(), leaseSeconds(settings.timeoutSeconds));
    if (ids.length === 0) return [];
    const rows = await prisma.webhookDelivery.findMany({ where: { id: { in: ids } } });
    return rows.map((row) => {
      inFlight += 1;
      return attempt(row)
        .catch((err: unknown) => logger.error({ err, deliveryId: row.id }, 'webhook delivery attempt failed'))
        .finally(() => {
          inFlight -= 1;
        });
    });
  };
  return { attempt, poll, owner };
}

/**
 * Claims one pending row now and attempts it (the CLI's `webhook test`); undefined when another
 * process holds it. A failed attempt leaves it to the servers' retries.
 */
export async function deliverNow(deps: WorkerDependencies, id: string): Promise<{ outcome: DeliveryOutcome; row: DeliveryRow & { lastStatus: number | null; lastError: string | null } } | undefined> {
  const { attempt, owner } = createOutboxWorker(deps);
  const [claimed] = await claimDue(deps.prisma, deps.provider, owner, 1, new Date(), leaseSeconds(deps.config.webhooks.timeoutSeconds), id);
  if (!claimed) return undefined;
  const outcome = await attempt(await deps.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: claimed } }));
  return { outcome, row: await deps.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: claimed } }) };
}

/** Starts polling every WEBHOOK_POLL_INTERVAL; deletes old finished rows now and then. */
export function startOutboxWorker(deps: WorkerDependencies): OutboxWorker {
  const { poll } = createOutboxWorker(deps);
  const running = new Set<Promise<unknown>>();
  let polls = 0;
  const tick = async () => {
    const started = await poll();
    for (const attempt of started) {
      running.add(attempt);
      void attempt.finally(() => running.delete(attempt));
    }
    if (++polls % 600 === 1) {
      await deps.prisma.webhookDelivery.deleteMany({
        where: { status: { in: ['delivered', 'failed'] }, createdAt: { lt: new Date(Date.now() - HISTORY_SECONDS * 1000) } },
      });
    }
  };
  const task = runEvery(tick, deps.config.webhooks.pollIntervalSeconds, (err) => deps.logger.warn({ err }, 'webhook outbox poll failed'));
  return {
    stop: async () => {
      task.stop();
      await Promise.allSettled([...running]);
    },
  };
}
