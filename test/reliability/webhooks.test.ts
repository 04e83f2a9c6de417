// Webhook delivery is at least once, across crashes and instances. Gatehouse runs as real server
// processes (dist/server.js); a receiver started here verifies every message with the
// `standardwebhooks` package.
//  - kill -9 while a delivery is in flight (the receiver holds it open): after a restart the
//    message is delivered, with the same webhook-id. Both databases.
//  - two instances on one PostgreSQL: every event of a load spread over both reaches the
//    receiver at least once, none is lost (counted against the audit rows), and no message is
//    claimed by both instances at once.
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { deriveKeyEncryptionKey } from '../../src/keys/encryption.js';
import { createWebhookEndpoint } from '../../src/webhooks/endpoints.js';
import { PROVIDERS, freshDatabase, type Provider, type TestDatabase } from '../support/databases.js';
import { eventually } from '../support/eventually.js';
import { TEST_KEY_ENCRYPTION_SECRET } from '../support/key-secret.js';
import { basicAuth, postForm } from '../support/oauth-http.js';
import { scaled, spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';
import { loops, report } from './helpers.js';

const kek = deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET);
const ORDERS = 'https://api.example.com/orders';
const ENV = { WEBHOOK_ALLOW_TARGETS: 'loopback', WEBHOOK_TIMEOUT: '2', WEBHOOK_RETRY_INITIAL_DELAY: '1', LOG_LEVEL: 'warn' };

type Message = { type: string; data: { id: string } };

async function setUp(provider: Provider) {
  const database = await freshDatabase(provider);
  const db = await openDatabase(database.url);
  await createApi(db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
  const created = await createClient(db.prisma, { name: 'svc', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
  return { database, db, service: { id: created.client.client_id, secret: created.clientSecret! } };
}

async function issueToken(server: GatehouseProcess, service: { id: string; secret: string }) {
  const res = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basicAuth(service.id, service.secret) });
  expect(res.status).toBe(200);
}

describe.each(PROVIDERS)('kill -9 during a webhook delivery on %s', (provider) => {
  let database: TestDatabase;
  let db: Database;
  let server: GatehouseProcess | undefined;
  let receiver: WebhookReceiver;
  let service: { id: string; secret: string };

  beforeAll(async () => {
    ({ database, db, service } = await setUp(provider));
    receiver = await startReceiver();
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
    await db?.close();
    await database?.drop();
  });

  test('the message in flight is delivered after the restart, with the same webhook-id', async () => {
    server = await spawnGatehouse({ env: { DATABASE_URL: database.url, ...ENV } });
    const { endpoint, secret } = await createWebhookEndpoint(db.prisma, kek, { url: `${receiver.url}/hook`, events: ['token.issued'] });
    receiver.secrets = [secret];
    // The first attempt reaches the receiver, which never answers it: the kill lands mid-delivery.
    receiver.answer = () => 'hang';
    await issueToken(server, service);
    const inFlight = await eventually(20, async () => receiver.verified[0]);
    const row = await db.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: inFlight.id } });
    expect(row).toMatchObject({ status: 'pending', endpointId: endpoint.id, attempts: 1 });
    expect(row.leaseUntil).not.toBeNull();

    await server.kill9();
    receiver.answer = () => 204;
    await server.restart();

    // Claimed again once the dead instance's lease runs out, and sent under the same id.
    const again = await eventually(60, async () => receiver.verified.find((m, index) => index > 0 && m.id === inFlight.id));
    expect((again.payload as Message).data.id).toBe((inFlight.payload as Message).data.id);
    const delivered = await eventually(20, async () => {
      const found = await db.prisma.webhookDelivery.findUnique({ where: { id: inFlight.id } });
      return found?.status === 'delivered' ? found : undefined;
    });
    expect(delivered.attempts).toBe(2);
    expect(receiver.unverified).toEqual([]);
    report(`webhook kill -9 (${provider})`, { webhook_id: inFlight.id, attempts: delivered.attempts, requests_seen: receiver.requests.length });
  });
});

describe('two instances on one PostgreSQL', () => {
  const EVENTS = scaled(40, 400);
  let database: TestDatabase;
  let db: Database;
  let servers: GatehouseProcess[] = [];
  let receiver: WebhookReceiver;
  let service: { id: string; secret: string };

  beforeAll(async () => {
    ({ database, db, service } = await setUp('postgresql'));
    receiver = await startReceiver();
    servers = await Promise.all([0, 1].map(() => spawnGatehouse({ env: { DATABASE_URL: database.url, ...ENV, TOKEN_CLIENT_LIMIT: '100000' } })));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await receiver?.close();
    await db?.close();
    await database?.drop();
  });

  test('every event is delivered at least once, none lost, each message claimed by one instance at a time', async () => {
    const { secret } = await createWebhookEndpoint(db.prisma, kek, { url: `${receiver.url}/hook`, events: ['token.issued'] });
    receiver.secrets = [secret];
    // Requests alternate between the instances; every third answer fails, so retries (claimed
    // by either instance) are part of the run.
    let answered = 0;
    receiver.answer = () => (++answered % 3 === 0 ? 503 : 204);
    let issued = 0;
    await loops(4, () => issued >= EVENTS, async () => {
      const n = issued++;
      await issueToken(servers[n % 2]!, service);
    });

    const audited = await eventually(20, async () => {
      const rows = await db.prisma.auditEvent.findMany({ where: { type: 'token.issued', clientId: service.id }, select: { id: true } });
      return rows.length >= EVENTS ? rows : undefined;
    });
    await eventually(120, async () => ((await db.prisma.webhookDelivery.count({ where: { status: { not: 'delivered' } } })) === 0 ? true : undefined));

    const received = new Map<string, number>();
    for (const message of receiver.verified) {
      const eventId = (message.payload as Message).data.id;
      received.set(eventId, (received.get(eventId) ?? 0) + 1);
    }
    const lost = audited.filter((a) => !received.has(a.id));
    expect(lost).toEqual([]);
    expect(receiver.unverified).toEqual([]);
    expect(await db.prisma.webhookDelivery.count()).toBe(audited.length);
    // Each message's attempts: the receiver's 503s account for every extra one; a message sent
    // twice in a row without a failure in between would mean two instances held it at once.
    const rows = await db.prisma.webhookDelivery.findMany();
    const extraAttempts = rows.reduce((sum, row) => sum + row.attempts - 1, 0);
    const failedAnswers = Math.floor(answered / 3);
    expect(extraAttempts).toBe(failedAnswers);
    expect(receiver.verified.length).toBe(audited.length + failedAnswers);
    report('webhooks on two instances', {
      events: audited.length,
      messages_received: receiver.verified.length,
      distinct_events_received: received.size,
      retries: extraAttempts,
      lost: lost.length,
    });
  });
});
