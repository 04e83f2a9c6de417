// The outbox row is written in the same transaction (on PostgreSQL, the same statement) as its
// audit row: when the outbox write fails, the audit row is not stored either, and when it
// succeeds both are there. Driven through the audit writer's insert with the webhook companion.
import { randomUUID } from 'node:crypto';
import { insertAuditRows, type AuditRow } from '../../src/audit/insert-rows.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { deriveKeyEncryptionKey } from '../../src/keys/encryption.js';
import { createWebhookEndpoint } from '../../src/webhooks/endpoints.js';
import { webhookOutbox } from '../../src/webhooks/outbox.js';
import { PROVIDERS, freshDatabase, type TestDatabase } from '../support/databases.js';
import { TEST_KEY_ENCRYPTION_SECRET } from '../support/key-secret.js';

describe.each(PROVIDERS)('audit row and outbox row together on %s', (provider) => {
  let database: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    database = await freshDatabase(provider);
    db = await openDatabase(database.url);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });

  const row = (): AuditRow => ({ id: randomUUID(), type: 'account.locked', outcome: 'failure', subject: 'u1', clientId: null, ip: '192.0.2.1', details: { reason: 'x' }, at: new Date() });

  test('both are stored, or neither', async () => {
    const { endpoint } = await createWebhookEndpoint(db.prisma, deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET), { url: 'https://siem.example/hook', events: ['account.locked'] });
    const stored = row();
    await insertAuditRows(db, [stored, row()], [webhookOutbox]);
    expect(await db.prisma.auditEvent.count({ where: { id: stored.id } })).toBe(1);
    expect(await db.prisma.webhookDelivery.findUnique({ where: { id: `msg_${stored.id}_${endpoint.id}` } })).toMatchObject({ status: 'pending', eventType: 'account.locked' });
    expect(await db.prisma.webhookDelivery.count()).toBe(2);

    // The outbox row cannot be written (its id is taken): the audit row goes with it.
    const refused = row();
    await db.prisma.webhookDelivery.create({ data: { id: `msg_${refused.id}_${endpoint.id}`, kind: 'webhook', url: 'x', eventType: 'x', payload: '{}' } });
    await expect(insertAuditRows(db, [refused], [webhookOutbox])).rejects.toThrow();
    expect(await db.prisma.auditEvent.count({ where: { id: refused.id } })).toBe(0);
  });
});
