// `webhook ...`: endpoints that receive signed security events (src/webhooks). The signing secret
// is printed once, by create and rotate-secret; `test` queues a message and attempts it at once
// from here, with the same checks (allowed targets, timeout) as the servers' delivery worker.
import type { Command } from 'commander';
import { Option } from 'commander';
import { currentKeySigner } from '../../keys/sign-jwt.js';
import { createLogger } from '../../logger.js';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listDeliveries,
  listWebhookEndpoints,
  queueTestMessage,
  redeliver,
  rotateWebhookSecret,
  setWebhookEndpointDisabled,
  showWebhookEndpoint,
  updateWebhookEndpoint,
  type WebhookInput,
  type WebhookView,
} from '../../webhooks/endpoints.js';
import { webhookRenderer } from '../../webhooks/render.js';
import { deliverNow } from '../../webhooks/worker.js';
import { collect, durationArgument, leaf, positiveIntegerArgument, type CommandResult } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { details, table, type Io } from '../output.js';

type EndpointFlags = { url?: string; event?: string[]; description?: string; securityEventToken?: boolean };

function endpointDetails(endpoint: WebhookView): string {
  return details([
    ['id', endpoint.id],
    ['url', endpoint.url],
    ['description', endpoint.description],
    ['events', endpoint.events],
    ['format', endpoint.security_event_token ? 'security event token (application/secevent+jwt)' : 'json'],
    ['status', endpoint.status],
    ['consecutive_failures', endpoint.consecutive_failures],
    ['previous_secret_until', endpoint.previous_secret_expires_at],
    ['created_at', endpoint.created_at],
  ]);
}

function withSecret(endpoint: WebhookView, secret: string, verb: string): CommandResult {
  return {
    json: { ...endpoint, secret },
    text: `${endpointDetails(endpoint)}\nsecret:           ${secret}`,
    notice: `The signing secret was ${verb} and is shown only now: store it with the receiver (Standard Webhooks: whsec_...).`,
  };
}

function endpointOptions(command: Command): Command {
  return command
    .option('--url <url>', 'where events are POSTed (https; private and loopback addresses only when WEBHOOK_ALLOW_TARGETS allows them)')
    .option('--event <type>', 'event type to send, repeatable; * for every event (README: event catalogue)', collect)
    .option('--description <text>', 'what the endpoint is for')
    .option('--security-event-token', 'send each event as a Security Event Token (RFC 8417) signed with the current key');
}

async function testDelivery(ctx: CliContext, id: string): Promise<CommandResult> {
  if ((await showWebhookEndpoint(ctx.prisma, id)).status === 'disabled') throw CliError.failure(`webhook endpoint ${id} is disabled: enable it first`);
  const messageId = await queueTestMessage(ctx.prisma, id);
  const kek = ctx.keyEncryptionKey();
  const result = await deliverNow(
    {
      prisma: ctx.prisma,
      provider: ctx.config.database.provider,
      config: ctx.config,
      logger: createLogger('silent', process.stderr),
      audit: ctx.audit,
      renderers: {
        webhook: webhookRenderer({ prisma: ctx.prisma, kek, issuer: ctx.config.issuer, sign: currentKeySigner(ctx.prisma, kek) }),
        'backchannel-logout': () => Promise.resolve(null),
      },
    },
    messageId,
  );
  const row = result?.row;
  const json = { message_id: messageId, outcome: result?.outcome ?? 'queued', status: row?.lastStatus ?? null, error: row?.lastError ?? null };
  const text =
    result?.outcome === 'delivered'
      ? `delivered ${messageId} (answered ${row?.lastStatus})`
      : `not delivered: ${row?.lastError ?? 'claimed by a server'}; ${result?.outcome === 'retry' ? 'the servers will retry it' : 'given up'} (${messageId})`;
  if (result?.outcome !== 'delivered') throw CliError.failure(text);
  return { json, text };
}

export function registerWebhookCommands(program: Command, io: Io): void {
  const webhook = program.command('webhook').description('endpoints that receive signed security events (Standard Webhooks)');

  const create = leaf<EndpointFlags>(webhook, 'create', 'register an endpoint; prints its signing secret (once)', io);
  endpointOptions(create.command);
  create.command.addHelpText('after', '\nExample:\n  gatehouse webhook create --url https://siem.example.com/gatehouse --event account.locked --event refresh.reuse_detected');
  create.handle(async (ctx, flags) => {
    if (!flags.url) throw CliError.usage('webhook create: --url is required');
    if (!flags.event?.length) throw CliError.usage('webhook create: name at least one --event (or --event "*")');
    const input: WebhookInput = {
      url: flags.url,
      events: flags.event as WebhookInput['events'],
      ...(flags.description !== undefined ? { description: flags.description } : {}),
      ...(flags.securityEventToken ? { security_event_token: true } : {}),
    };
    const { endpoint, secret } = await createWebhookEndpoint(ctx.prisma, ctx.keyEncryptionKey(), input);
    await ctx.audit({ type: 'webhook.created', outcome: 'success', details: { endpoint_id: endpoint.id, events: endpoint.events } });
    return withSecret(endpoint, secret, 'generated');
  });

  leaf(webhook, 'list', 'list endpoints', io).handle(async (ctx) => {
    const endpoints = await listWebhookEndpoints(ctx.prisma);
    return {
      json: endpoints,
      text: endpoints.length
        ? table(endpoints, [
            { header: 'ID', value: (e) => e.id },
            { header: 'URL', value: (e) => e.url },
            { header: 'EVENTS', value: (e) => e.events.join(',') },
            { header: 'STATUS', value: (e) => e.status },
          ])
        : 'no webhook endpoints',
    };
  });

  leaf(webhook, 'show <id>', 'show one endpoint (never its secret)', io).handle(async (ctx, _flags, [id]) => {
    const endpoint = await showWebhookEndpoint(ctx.prisma, id!);
    return { json: endpoint, text: endpointDetails(endpoint) };
  });

  const update = leaf<EndpointFlags>(webhook, 'update <id>', 'change an endpoint; only the options given change (--event replaces the list)', io);
  endpointOptions(update.command).option('--no-security-event-token', 'send plain JSON events again');
  update.handle(async (ctx, flags, [id]) => {
    const patch = {
      ...(flags.url !== undefined ? { url: flags.url } : {}),
      ...(flags.event !== undefined ? { events: flags.event as WebhookInput['events'] } : {}),
      ...(flags.description !== undefined ? { description: flags.description } : {}),
      ...(flags.securityEventToken !== undefined ? { security_event_token: flags.securityEventToken } : {}),
    };
    if (Object.keys(patch).length === 0) throw CliError.usage('webhook update: nothing to change (see --help for the options)');
    const endpoint = await updateWebhookEndpoint(ctx.prisma, id!, patch);
    await ctx.audit({ type: 'webhook.updated', outcome: 'success', details: { endpoint_id: endpoint.id, fields: Object.keys(patch) } });
    return { json: endpoint, text: endpointDetails(endpoint) };
  });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    leaf(webhook, `${verb} <id>`, disabled ? 'stop sending to an endpoint (its pending messages wait)' : 'send to an endpoint again (and clear its failing mark)', io).handle(
      async (ctx, _flags, [id]) => {
        const endpoint = await setWebhookEndpointDisabled(ctx.prisma, id!, disabled);
        await ctx.audit({ type: 'webhook.updated', outcome: 'success', details: { endpoint_id: endpoint.id, disabled } });
        return { json: endpoint, text: `webhook endpoint ${endpoint.id} ${disabled ? 'disabled' : 'enabled'}` };
      },
    );
  }

  leaf(webhook, 'delete <id>', 'delete an endpoint and its messages', io).handle(async (ctx, _flags, [id]) => {
    await deleteWebhookEndpoint(ctx.prisma, id!);
    await ctx.audit({ type: 'webhook.deleted', outcome: 'success', details: { endpoint_id: id! } });
    return { json: { id: id!, deleted: true }, text: `webhook endpoint ${id} deleted` };
  });

  const rotate = leaf<{ overlap?: number }>(webhook, 'rotate-secret <id>', 'make a new signing secret; the old one keeps signing too during --overlap', io);
  rotate.command.option('--overlap <duration>', 'how long the previous secret also signs (default 24h; 0 ends it now)', durationArgument);
  rotate.handle(async (ctx, flags, [id]) => {
    const overlap = flags.overlap ?? 86_400;
    const { endpoint, secret } = await rotateWebhookSecret(ctx.prisma, ctx.keyEncryptionKey(), id!, overlap);
    await ctx.audit({ type: 'webhook.secret_rotated', outcome: 'success', details: { endpoint_id: endpoint.id, overlap_seconds: overlap } });
    return withSecret(endpoint, secret, 'rotated');
  });

  leaf(webhook, 'test <id>', 'send a webhook.test message now and say how the endpoint answered', io).handle(async (ctx, _flags, [id]) => testDelivery(ctx, id!));

  const deliveries = leaf<{ status?: string; limit?: number }>(webhook, 'deliveries <id>', 'list an endpoint\'s messages, newest first, with their status', io);
  deliveries.command
    .addOption(new Option('--status <status>', 'only messages in this state').choices(['pending', 'delivered', 'failed']))
    .option('--limit <n>', 'at most this many (default 50)', positiveIntegerArgument);
  deliveries.handle(async (ctx, flags, [id]) => {
    const rows = await listDeliveries(ctx.prisma, id!, { ...(flags.status ? { status: flags.status } : {}), ...(flags.limit ? { limit: flags.limit } : {}) });
    return {
      json: rows,
      text: rows.length
        ? table(rows, [
            { header: 'ID', value: (d) => d.id },
            { header: 'EVENT', value: (d) => d.event_type },
            { header: 'STATUS', value: (d) => d.status },
            { header: 'ATTEMPTS', value: (d) => String(d.attempts) },
            { header: 'LAST', value: (d) => (d.last_status !== null ? String(d.last_status) : (d.last_error ?? '-')) },
            { header: 'CREATED', value: (d) => d.created_at },
          ])
        : 'no messages',
    };
  });

  leaf(webhook, 'redeliver <delivery_id>', 'send a message again, with the same webhook-id', io).handle(async (ctx, _flags, [deliveryId]) => {
    await redeliver(ctx.prisma, deliveryId!);
    return { json: { id: deliveryId!, status: 'pending' }, text: `message ${deliveryId} queued again` };
  });
}
