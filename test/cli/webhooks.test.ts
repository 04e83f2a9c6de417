// `gatehouse webhook ...` as a subprocess: the secret shown once and stored sealed, every verb,
// `test` against a real receiver that verifies with standardwebhooks, bad input with exit 2;
// `client create --backchannel-logout-uri` and `user disable` queueing a logout token.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { createClient } from '../../src/clients/registry.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { PASSWORD } from '../support/signin.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

jest.setTimeout(300_000);

type EndpointJson = { id: string; url: string; events: string[]; status: string; secret?: string; security_event_token: boolean; previous_secret_expires_at: string | null };
type DeliveryJson = { id: string; event_type: string; status: string; attempts: number; last_status: number | null };

describe.each(PROVIDERS)('admin CLI: webhooks (%s)', (provider) => {
  let database: TestDatabase;
  let db: Database;
  let cli: Cli;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    database = await freshDatabase(provider);
    db = await openDatabase(database.url);
    cli = cliFor(database, { WEBHOOK_ALLOW_TARGETS: 'loopback', WEBHOOK_TIMEOUT: '5' });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await db?.close();
    await database?.drop();
  });

  test('create prints the secret once; it is stored sealed; show and list never print it; test delivers a verifiable message', async () => {
    const created = await cli.json<EndpointJson>(['webhook', 'create', '--url', `${receiver.url}/hook`, '--event', 'account.locked', '--event', 'token.issued', '--description', 'SIEM']);
    expect(created).toMatchObject({ url: `${receiver.url}/hook`, events: ['account.locked', 'token.issued'], status: 'active', security_event_token: false });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const row = await db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.secretEnc).not.toContain(created.secret!.slice(6));
    const shown = await cli(['webhook', 'show', created.id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toContain(created.secret!.slice(6));
    const listed = await cli.json<EndpointJson[]>(['webhook', 'list']);
    expect(listed.map((e) => e.id)).toEqual([created.id]);
    expect(JSON.stringify(listed)).not.toContain(created.secret!.slice(6));
    const audit = await db.prisma.auditEvent.findMany({ where: { type: 'webhook.created' } });
    expect(audit).toHaveLength(1);
    expect(JSON.stringify(audit)).not.toContain(created.secret!.slice(6));

    receiver.secrets = [created.secret!];
    const tested = await cli.json<{ message_id: string; outcome: string; status: number }>(['webhook', 'test', created.id]);
    expect(tested).toMatchObject({ outcome: 'delivered', status: 204 });
    const message = receiver.verified.find((m) => m.id === tested.message_id);
    expect((message?.payload as { type: string }).type).toBe('webhook.test');

    const deliveries = await cli.json<DeliveryJson[]>(['webhook', 'deliveries', created.id]);
    expect(deliveries).toEqual([expect.objectContaining({ id: tested.message_id, event_type: 'webhook.test', status: 'delivered', attempts: 1, last_status: 204 })]);
    const again = await cli(['webhook', 'redeliver', tested.message_id]);
    expect(again.code).toBe(0);
    expect((await db.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: tested.message_id } })).status).toBe('pending');
  });

  test('update, disable, enable, rotate-secret with an overlap, delete', async () => {
    const created = await cli.json<EndpointJson>(['webhook', 'create', '--url', `${receiver.url}/other`, '--event', 'user.updated']);
    const updated = await cli.json<EndpointJson>(['webhook', 'update', created.id, '--event', '*', '--security-event-token']);
    expect(updated).toMatchObject({ events: ['*'], security_event_token: true });
    expect((await db.prisma.webhookSubscription.findMany({ where: { endpointId: created.id } })).map((s) => s.eventType)).toEqual(['*']);
    expect(await cli.json<EndpointJson>(['webhook', 'update', created.id, '--no-security-event-token'])).toMatchObject({ security_event_token: false });
    expect(await cli.json<EndpointJson>(['webhook', 'disable', created.id])).toMatchObject({ status: 'disabled' });
    expect(await cli.json<EndpointJson>(['webhook', 'enable', created.id])).toMatchObject({ status: 'active' });

    const rotated = await cli.json<EndpointJson>(['webhook', 'rotate-secret', created.id, '--overlap', '1h']);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    expect(rotated.previous_secret_expires_at).toEqual(expect.any(String));
    // During the overlap both signatures are sent: a receiver with either secret verifies.
    receiver.secrets = [created.secret!];
    const tested = await cli.json<{ message_id: string; outcome: string }>(['webhook', 'test', created.id]);
    expect(tested.outcome).toBe('delivered');
    expect(receiver.verified.map((m) => m.id)).toContain(tested.message_id);
    expect(receiver.unverified).toEqual([]);

    expect((await cli(['webhook', 'delete', created.id])).code).toBe(0);
    expect(await db.prisma.webhookDelivery.count({ where: { endpointId: created.id } })).toBe(0);
    const gone = await cli(['webhook', 'show', created.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(`gatehouse: no webhook endpoint ${created.id}\n`);
  });

  test('bad input is a message and exit 2, never a stack trace', async () => {
    const cases: [string[], RegExp][] = [
      [['webhook', 'create', '--url', 'ftp://example.com/x', '--event', 'token.issued'], /url: must be an absolute http\(s\) URL/],
      [['webhook', 'create', '--url', 'https://user:pw@example.com/x', '--event', 'token.issued'], /without user info/],
      [['webhook', 'create', '--url', 'https://example.com/x', '--event', 'no.such_event'], /events\[0\]: must be \* or an event type/],
      [['webhook', 'create', '--url', 'https://example.com/x'], /--event/],
      [['webhook', 'create', '--url', 'https://example.com/\u0007x', '--event', 'token.issued'], /control characters/],
      [['webhook', 'show', '../etc'], /must be a webhook endpoint id/],
      [['webhook', 'deliveries', 'whe_abc', '--status', 'lost'], /Allowed choices/],
      [['webhook', 'rotate-secret', 'whe_abc', '--overlap', 'soon'], /must be a duration/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr).toMatch(message);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    const unknown = await cli(['webhook', 'redeliver', 'msg_nothing']);
    expect(unknown.code).toBe(1);
  });

  test('client --backchannel-logout-uri is validated and stored; user disable queues a logout token for the client', async () => {
    const bad = await cli(['client', 'create', '--name', 'Bad', '--type', 'web', '--redirect-uri', 'https://app.example/cb', '--backchannel-logout-uri', 'https://app.example/bcl#frag']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/backchannel_logout_uri: must not contain a fragment/);
    const created = await cli.json<{ client_id: string; backchannel_logout_uri: string; backchannel_logout_session_required: boolean }>([
      'client',
      'create',
      '--name',
      'Notes',
      '--type',
      'web',
      '--redirect-uri',
      'https://app.example/cb',
      '--backchannel-logout-uri',
      `${receiver.url}/bcl`,
      '--backchannel-logout-session-required',
    ]);
    expect(created).toMatchObject({ backchannel_logout_uri: `${receiver.url}/bcl`, backchannel_logout_session_required: true });
    const other = await createClient(db.prisma, { name: 'No BCL', profile: 'web', redirect_uris: ['https://other.example/cb'] });

    const user = await cli.json<{ id: string }>(['user', 'create', '--email', `bcl-${provider}@example.com`, '--password-stdin'], { input: PASSWORD });
    // A grant at each client, as a sign-in leaves.
    for (const clientId of [created.client_id, other.client.client_id]) {
      await db.prisma.grant.create({ data: { id: `grant-${clientId}`, payload: { accountId: user.id, clientId }, accountId: user.id, clientId } });
    }
    expect((await cli(['user', 'disable', user.id])).code).toBe(0);
    const queued = await db.prisma.webhookDelivery.findMany({ where: { kind: 'backchannel-logout' } });
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ clientId: created.client_id, url: `${receiver.url}/bcl`, status: 'pending' });
    expect(JSON.parse(queued[0]!.payload)).toEqual({ sub: user.id });

    const cleared = await cli.json<{ backchannel_logout_uri: string | null }>(['client', 'update', created.client_id, '--no-backchannel-logout-uri', '--no-backchannel-logout-session-required']);
    expect(cleared.backchannel_logout_uri).toBeNull();
  });

  test('the seed creates a webhook endpoint once (secret printed once), updates it by URL, refuses bad entries', async () => {
    const file = path.join(cli.cwd, 'seed-webhooks.json');
    const seedWith = (webhook: Record<string, unknown>) => writeFileSync(file, JSON.stringify({ webhooks: [webhook] }));
    const url = `${receiver.url}/seeded`;
    seedWith({ url, events: ['account.locked', 'refresh.reuse_detected'], description: 'SIEM' });
    type SeedJson = { changes: { kind: string; id: string; action: string; fields?: string[] }[]; webhook_secrets?: Record<string, string> };
    const first = await cli.json<SeedJson>(['seed', file]);
    expect(first.changes).toEqual([{ kind: 'webhook', id: url, action: 'created' }]);
    expect(first.webhook_secrets?.[url]).toMatch(/^whsec_/);
    const again = await cli.json<SeedJson>(['seed', file]);
    expect(again.changes).toEqual([{ kind: 'webhook', id: url, action: 'unchanged' }]);
    expect(again.webhook_secrets).toBeUndefined();
    seedWith({ url, events: ['*'], description: 'SIEM', disabled: true });
    const changed = await cli.json<SeedJson>(['seed', file]);
    expect(changed.changes).toEqual([{ kind: 'webhook', id: url, action: 'updated', fields: ['events', 'disabled'] }]);
    const endpoints = await cli.json<EndpointJson[]>(['webhook', 'list']);
    expect(endpoints.filter((e) => e.url === url)).toEqual([expect.objectContaining({ events: ['*'], status: 'disabled' })]);

    seedWith({ url, events: ['token.stolen'] });
    const bad = await cli(['seed', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/webhooks\[0\]\.events\[0\]: must be \* or an event type/);
  });
});
