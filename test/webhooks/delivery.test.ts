// Security-event webhooks end to end: a real receiver started here verifies every delivery with
// the `standardwebhooks` package; events come from real requests (token issuance), pass through
// the audit writer's outbox and the background worker. Retries while the receiver is down,
// secret rotation with overlap, Security Event Tokens verified against the JWKS, and metrics.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { Webhook } from 'standardwebhooks';
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { deriveKeyEncryptionKey } from '../../src/keys/encryption.js';
import { createWebhookEndpoint, queueTestMessage, rotateWebhookSecret, type WebhookInput } from '../../src/webhooks/endpoints.js';
import { PROVIDERS } from '../support/databases.js';
import { eventually } from '../support/eventually.js';
import { TEST_KEY_ENCRYPTION_SECRET } from '../support/gatehouse.js';
import { basicAuth, postForm } from '../support/oauth-http.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const kek = deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET);
const ORDERS = 'https://api.example.com/orders';

type Message = { type: string; timestamp: string; data: { id: string; type: string; outcome: string; subject: string | null; client_id: string | null; details: Record<string, unknown> } };

describe.each(PROVIDERS)('webhooks on %s', (provider) => {
  const gh = useGatehouse(provider, { WEBHOOK_ALLOW_TARGETS: 'loopback', WEBHOOK_RETRY_INITIAL_DELAY: '1', WEBHOOK_TIMEOUT: '2', WEBHOOK_FAILING_AFTER: '2' });
  const service = useBeforeAll(async () => {
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const created = await createClient(gh.db.prisma, { name: 'svc', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    return { id: created.client.client_id, secret: created.clientSecret! };
  });
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await receiver.close();
  });

  async function endpointFor(events: WebhookInput['events'], options: { security_event_token?: boolean; path?: string } = {}) {
    const { path = '/hooks', ...rest } = options;
    const { endpoint, secret } = await createWebhookEndpoint(gh.db.prisma, kek, { url: `${receiver.url}${path}`, events, ...rest });
    receiver.secrets = [secret];
    return { endpoint, secret };
  }

  async function issueToken(): Promise<string> {
    const res = await postForm(`${gh.url}/token`, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basicAuth(service.id, service.secret) });
    expect(res.status).toBe(200);
    return res.body.access_token as string;
  }

  const tokenEvents = (forEndpoint: string) => receiver.verified.filter((m) => m.path === forEndpoint && (m.payload as Message).type === 'token.issued');

  test('each event is delivered once per endpoint, signed, verifying with standardwebhooks, carrying no credential', async () => {
    const { endpoint } = await endpointFor(['token.issued']);
    const tokens = [await issueToken(), await issueToken(), await issueToken()];
    await eventually(20, async () => (tokenEvents('/hooks').length >= 3 ? true : undefined));
    expect(receiver.unverified).toEqual([]);

    const messages = tokenEvents('/hooks');
    expect(new Set(messages.map((m) => m.id)).size).toBe(3);
    const audited = await gh.db.prisma.auditEvent.findMany({ where: { type: 'token.issued', clientId: service.id } });
    for (const message of messages) {
      const body = message.payload as Message;
      expect(body.data).toMatchObject({ type: 'token.issued', outcome: 'success', client_id: service.id });
      // The body is the audit event as stored, under the id the outbox row carries.
      expect(audited.map((a) => a.id)).toContain(body.data.id);
      expect(message.id).toBe(`msg_${body.data.id}_${endpoint.id}`);
      expect(message.headers['content-type']).toBe('application/json');
      for (const token of tokens) expect(message.body).not.toContain(token);
    }
    const rows = await gh.db.prisma.webhookDelivery.findMany({ where: { endpointId: endpoint.id } });
    expect(rows.map((r) => r.status)).toEqual(['delivered', 'delivered', 'delivered']);
  });

  test('an endpoint subscribed to other events gets none of these', async () => {
    await endpointFor(['account.locked'], { path: '/other' });
    const all = await endpointFor(['*'], { path: '/all' });
    await issueToken();
    await eventually(20, async () => (tokenEvents('/all').length >= 1 ? true : undefined));
    expect(receiver.requests.filter((r) => r.path === '/other')).toEqual([]);
    expect(await gh.db.prisma.webhookDelivery.count({ where: { endpointId: { not: all.endpoint.id }, url: { endsWith: '/other' } } })).toBe(0);
  });

  test('while the receiver is down the message is retried, then delivered with the same webhook-id; the endpoint is marked failing meanwhile, audited once', async () => {
    const { endpoint } = await endpointFor(['token.issued'], { path: '/flaky' });
    let failures = 0;
    receiver.answer = (request) => (request.path === '/flaky' && failures++ < 3 ? 503 : 204);
    await issueToken();
    const row = await eventually(40, async () => {
      const found = await gh.db.prisma.webhookDelivery.findFirst({ where: { endpointId: endpoint.id, status: 'delivered' } });
      return found ?? undefined;
    });
    const attempts = receiver.requests.filter((r) => r.path === '/flaky');
    expect(attempts.length).toBe(4);
    expect(new Set(attempts.map((r) => r.headers['webhook-id']))).toEqual(new Set([row.id]));
    expect(receiver.verified.filter((m) => m.path === '/flaky')).toHaveLength(4);
    expect(receiver.unverified).toEqual([]);
    expect(row.attempts).toBe(4);
    expect(row.lastStatus).toBe(204);

    // WEBHOOK_FAILING_AFTER=2: the second failure marked it failing (one audit event); the success cleared it.
    const failing = (await gh.db.prisma.auditEvent.findMany({ where: { type: 'webhook.endpoint_failing' } })).filter(
      (event) => (event.details as Record<string, unknown> | null)?.endpoint_id === endpoint.id,
    );
    expect(failing).toHaveLength(1);
    expect(await gh.db.prisma.webhookEndpoint.findUniqueOrThrow({ where: { id: endpoint.id } })).toMatchObject({ failing: false, consecutiveFailures: 0 });
  });

  test('a message older than the retry period is given up (failed) at its next failed attempt', async () => {
    const { endpoint } = await endpointFor(['token.issued'], { path: '/gone' });
    receiver.answer = (request) => (request.path === '/gone' ? 500 : 204);
    // Written two days ago (WEBHOOK_RETRY_PERIOD is 24 h) and due now.
    const id = await queueTestMessage(gh.db.prisma, endpoint.id);
    await gh.db.prisma.webhookDelivery.update({ where: { id }, data: { createdAt: new Date(Date.now() - 2 * 86_400_000) } });
    const row = await eventually(20, async () => {
      const found = await gh.db.prisma.webhookDelivery.findUnique({ where: { id } });
      return found?.status === 'failed' ? found : undefined;
    });
    expect(row).toMatchObject({ attempts: 1, lastStatus: 500, lastError: 'answered 500' });
    receiver.answer = () => 204;
  });

  test('rotate-secret: during the overlap both secrets verify; the new one alone afterwards', async () => {
    const { endpoint, secret: old } = await endpointFor(['token.issued'], { path: '/rotating' });
    const { secret: fresh } = await rotateWebhookSecret(gh.db.prisma, kek, endpoint.id, 3600);
    expect(fresh).not.toBe(old);
    receiver.secrets = [old];
    await issueToken();
    await eventually(20, async () => (tokenEvents('/rotating').length >= 1 ? true : undefined));
    receiver.secrets = [fresh];
    await issueToken();
    await eventually(20, async () => (tokenEvents('/rotating').length >= 2 ? true : undefined));
    expect(receiver.unverified).toEqual([]);

    // Without an overlap the previous secret stops at once.
    const { secret: newest } = await rotateWebhookSecret(gh.db.prisma, kek, endpoint.id, 0);
    receiver.secrets = [fresh];
    await issueToken();
    const refused = await eventually(20, async () => receiver.unverified.find((m) => m.path === '/rotating'));
    expect(refused.error).toMatch(/no matching signature/i);
    expect(() => new Webhook(newest).verify(refused.body, refused.headers as Record<string, string>)).not.toThrow();
  });

  test('an endpoint asking for Security Event Tokens gets an RFC 8417 SET signed with the current key, verifiable with the JWKS', async () => {
    const { endpoint } = await endpointFor(['token.issued'], { path: '/set', security_event_token: true });
    await issueToken();
    const message = await eventually(20, async () => receiver.verified.find((m) => m.path === '/set'));
    expect(message.headers['content-type']).toBe('application/secevent+jwt');
    const { payload, protectedHeader } = await jwtVerify(message.body, createRemoteJWKSet(new URL(`${gh.url}/jwks`)), {
      issuer: gh.config.issuer,
      audience: endpoint.url,
      typ: 'secevent+jwt',
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.jti).toBe(message.id);
    const events = payload.events as Record<string, Record<string, unknown>>;
    expect(events['urn:gatehouse:security-event:token.issued']).toMatchObject({ type: 'token.issued', client_id: service.id });
  });

  test('metrics count deliveries by outcome and report the queue', async () => {
    await endpointFor(['token.issued'], { path: '/metrics-check' });
    await issueToken();
    await eventually(20, async () => (tokenEvents('/metrics-check').length >= 1 ? true : undefined));
    const text = await (await fetch(`http://127.0.0.1:${gh.metricsPort}/metrics`)).text();
    expect(text).toMatch(/gatehouse_outbox_deliveries_total\{kind="webhook",outcome="delivered"\} [1-9]/);
    expect(text).toMatch(/gatehouse_outbox_pending \d+/);
    expect(text).toMatch(/gatehouse_outbox_oldest_pending_seconds [\d.]+/);
  });
});
