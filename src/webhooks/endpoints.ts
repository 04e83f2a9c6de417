// Webhook endpoints for the admin CLI and the seed: create, list, show, update, enable/disable,
// delete, rotate the secret with an overlap, deliveries and redelivery. Every input is checked
// here with zod; a secret is returned once, by create and rotate, and stored only sealed.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AUDIT_EVENT_TYPES } from '../audit/audit.js';
import type { Db } from '../db/client.js';
import type { KeyEncryptionKey } from '../keys/encryption.js';
import { WebhookError } from './errors.js';
import { ALL_EVENTS, enqueueDeliveries } from './outbox.js';
import { generateWebhookSecret, sealWebhookSecret } from './signing.js';

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

/** http(s), absolute, no user info or fragment; whether its address may be reached is decided at each attempt (targets.ts). */
const webhookUrlSchema = z
  .string({ message: 'must be a string' })
  .max(2000, 'must be at most 2000 characters')
  .refine((value) => !CONTROL_CHARACTERS.test(value), 'must not contain control characters')
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password && !url.hash;
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL without user info or fragment');

const eventSchema = z.enum([ALL_EVENTS, ...AUDIT_EVENT_TYPES], { message: `must be ${ALL_EVENTS} or an event type (see README: event catalogue)` });

const eventsSchema = z
  .array(eventSchema)
  .min(1, 'name at least one event')
  // "*" covers the rest; duplicates are dropped.
  .transform((events) => (events.includes(ALL_EVENTS) ? [ALL_EVENTS] : [...new Set(events)].sort()));

const descriptionSchema = z
  .string({ message: 'must be a string' })
  .trim()
  .max(200, 'must be at most 200 characters')
  .refine((value) => !CONTROL_CHARACTERS.test(value), 'must not contain control characters');

export const webhookInputSchema = z.strictObject({
  url: webhookUrlSchema,
  events: eventsSchema,
  description: descriptionSchema.optional(),
  security_event_token: z.boolean({ message: 'must be true or false' }).optional(),
});
export type WebhookInput = z.input<typeof webhookInputSchema>;

const updateSchema = webhookInputSchema.partial();
export type WebhookUpdate = z.input<typeof updateSchema>;

const idSchema = z.string().regex(/^whe_[A-Za-z0-9]{1,64}$/, 'must be a webhook endpoint id (whe_...)');

export type WebhookView = {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  security_event_token: boolean;
  status: 'active' | 'failing' | 'disabled';
  consecutive_failures: number;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
};

type EndpointRow = NonNullable<Awaited<ReturnType<Db['webhookEndpoint']['findUnique']>>>;

const storedEvents = z.array(z.string());

function viewOf(row: EndpointRow, now = new Date()): WebhookView {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: storedEvents.parse(row.events),
    security_event_token: row.securityEventToken,
    status: row.disabled ? 'disabled' : row.failing ? 'failing' : 'active',
    consecutive_failures: row.consecutiveFailures,
    previous_secret_expires_at: row.previousSecretExpiresAt && row.previousSecretExpiresAt > now ? row.previousSecretExpiresAt.toISOString() : null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw WebhookError.fromZod(what, parsed.error);
  return parsed.data;
}

async function requireEndpoint(prisma: Db, id: string): Promise<EndpointRow> {
  const endpointId = parse(idSchema, id, 'webhook endpoint id');
  const row = await prisma.webhookEndpoint.findUnique({ where: { id: endpointId } });
  if (!row) throw new WebhookError('not_found', `no webhook endpoint ${endpointId}`);
  return row;
}

const newEndpointId = () => `whe_${randomBytes(12).toString('hex')}`;

/** Creates an endpoint; the secret is returned here once and never again. */
export async function createWebhookEndpoint(prisma: Db, kek: KeyEncryptionKey, input: WebhookInput): Promise<{ endpoint: WebhookView; secret: string }> {
  const valid = parse(webhookInputSchema, input, 'webhook endpoint');
  const id = newEndpointId();
  const secret = generateWebhookSecret();
  const row = await prisma.webhookEndpoint.create({
    data: {
      id,
      url: valid.url,
      description: valid.description ?? null,
      events: valid.events,
      secretEnc: sealWebhookSecret(kek, id, secret),
      securityEventToken: valid.security_event_token ?? false,
      subscriptions: { create: valid.events.map((eventType) => ({ eventType })) },
    },
  });
  return { endpoint: viewOf(row), secret };
}

/** The endpoint registered for a URL (the seed's key), if any: the oldest when several are. */
export async function findWebhookEndpointByUrl(prisma: Db, url: string): Promise<WebhookView | null> {
  const row = await prisma.webhookEndpoint.findFirst({ where: { url }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return row ? viewOf(row) : null;
}

export async function listWebhookEndpoints(prisma: Db): Promise<WebhookView[]> {
  const rows = await prisma.webhookEndpoint.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map((row) => viewOf(row));
}

export async function showWebhookEndpoint(prisma: Db, id: string): Promise<WebhookView> {
  return viewOf(await requireEndpoint(prisma, id));
}

export async function updateWebhookEndpoint(prisma: Db, id: string, update: WebhookUpdate): Promise<WebhookView> {
  const found = await requireEndpoint(prisma, id);
  const valid = parse(updateSchema, update, 'webhook endpoint');
  const row = await prisma.$transaction(async (tx) => {
    if (valid.events) {
      await tx.webhookSubscription.deleteMany({ where: { endpointId: found.id } });
      await tx.webhookSubscription.createMany({ data: valid.events.map((eventType) => ({ endpointId: found.id, eventType })) });
    }
    return tx.webhookEndpoint.update({
      where: { id: found.id },
      data: {
        ...(valid.url !== undefined ? { url: valid.url } : {}),
        ...(valid.description !== undefined ? { description: valid.description || null } : {}),
        ...(valid.events !== undefined ? { events: valid.events } : {}),
        ...(valid.security_event_token !== undefined ? { securityEventToken: valid.security_event_token } : {}),
      },
    });
  });
  return viewOf(row);
}

/** Disabled endpoints get no new messages and their pending ones wait (enable resumes them). */
export async function setWebhookEndpointDisabled(prisma: Db, id: string, disabled: boolean): Promise<WebhookView> {
  const found = await requireEndpoint(prisma, id);
  const row = await prisma.webhookEndpoint.update({
    where: { id: found.id },
    data: disabled ? { disabled } : { disabled, failing: false, consecutiveFailures: 0 },
  });
  return viewOf(row);
}

/** Deletes the endpoint, its subscriptions and its messages (pending ones are not sent). */
export async function deleteWebhookEndpoint(prisma: Db, id: string): Promise<void> {
  const found = await requireEndpoint(prisma, id);
  await prisma.$transaction([prisma.webhookDelivery.deleteMany({ where: { endpointId: found.id } }), prisma.webhookEndpoint.delete({ where: { id: found.id } })]);
}

/**
 * A new secret signs from now on; the previous one keeps signing alongside it (a second
 * signature in the header) for `overlapSeconds`, so receivers can switch without a gap.
 */
export async function rotateWebhookSecret(
  prisma: Db,
  kek: KeyEncryptionKey,
  id: string,
  overlapSeconds: number,
): Promise<{ endpoint: WebhookView; secret: string }> {
  const found = await requireEndpoint(prisma, id);
  const secret = generateWebhookSecret();
  const row = await prisma.webhookEndpoint.update({
    where: { id: found.id },
    data: {
      secretEnc: sealWebhookSecret(kek, found.id, secret),
      previousSecretEnc: overlapSeconds > 0 ? found.secretEnc : null,
      previousSecretExpiresAt: overlapSeconds > 0 ? new Date(Date.now() + overlapSeconds * 1000) : null,
    },
  });
  return { endpoint: viewOf(row), secret };
}

export type DeliveryView = {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  created_at: string;
  delivered_at: string | null;
};

const statusSchema = z.enum(['pending', 'delivered', 'failed'], { message: 'must be pending, delivered or failed' });

/** An endpoint's messages, newest first. */
export async function listDeliveries(prisma: Db, id: string, options: { status?: string; limit?: number } = {}): Promise<DeliveryView[]> {
  const found = await requireEndpoint(prisma, id);
  const status = options.status === undefined ? undefined : parse(statusSchema, options.status, 'status');
  const rows = await prisma.webhookDelivery.findMany({
    where: { endpointId: found.id, ...(status ? { status } : {}) },
    orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
    take: Math.min(options.limit ?? 50, 1000),
  });
  return rows.map((row) => ({
    id: row.id,
    event_type: row.eventType,
    status: row.status,
    attempts: row.attempts,
    last_status: row.lastStatus,
    last_error: row.lastError,
    next_attempt_at: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    created_at: row.createdAt.toISOString(),
    delivered_at: row.deliveredAt?.toISOString() ?? null,
  }));
}

const deliveryIdSchema = z.string().min(1).max(200).regex(/^[A-Za-z0-9_.-]+$/, 'must be a delivery id');

/**
 * Sends a message again with its own id (receivers deduplicate by webhook-id): due now, its
 * retry period counted afresh.
 */
export async function redeliver(prisma: Db, deliveryId: string): Promise<void> {
  const id = parse(deliveryIdSchema, deliveryId, 'delivery id');
  const now = new Date();
  const updated = await prisma.webhookDelivery.updateMany({
    where: { id },
    data: { status: 'pending', nextAttemptAt: now, createdAt: now, leaseUntil: null, leaseOwner: null },
  });
  if (updated.count === 0) throw new WebhookError('not_found', `no delivery ${id}`);
}

/** Queues a `webhook.test` message to one endpoint (whatever it subscribes to); returns its id. */
export async function queueTestMessage(prisma: Db, id: string): Promise<string> {
  const found = await requireEndpoint(prisma, id);
  const now = new Date();
  const messageId = `msg_test_${randomBytes(12).toString('hex')}`;
  const payload = JSON.stringify({ type: 'webhook.test', timestamp: now.toISOString(), data: { endpoint_id: found.id, time: now.toISOString() } });
  await enqueueDeliveries(prisma, [{ id: messageId, kind: 'webhook', endpointId: found.id, url: found.url, eventType: 'webhook.test', payload }], now);
  return messageId;
}
