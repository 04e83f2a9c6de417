// The audit writer stores rows with raw multi-row INSERTs (src/audit/insert-rows.ts), bypassing
// Prisma's model layer for speed. Rows must read back through the model API exactly as if Prisma
// had written them: timestamps to the millisecond, JSON details, NULLs, and ordering by time.
import { openDatabase, type Database } from '../../src/db/client.js';
import { createAuditWriter } from '../../src/audit/audit.js';
import { createLogger } from '../../src/logger.js';
import { Writable } from 'node:stream';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';

const silent = createLogger('info', new Writable({ write: (_c, _e, done) => done() }));

describe.each(PROVIDERS)('audit rows written in batches read back through Prisma (%s)', (provider) => {
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

  it('stores every field of a batch, including JSON details, NULLs and millisecond timestamps', async () => {
    const audit = createAuditWriter(db, silent);
    const before = new Date();
    // Handed over in one turn of the event loop: stored by one INSERT.
    await Promise.all([
      audit({ type: 'token.issued', outcome: 'success', clientId: 'svc', ip: '203.0.113.9', details: { grant_type: 'client_credentials', api: 'urn:x:api', scope: null } }),
      audit({ type: 'login.failure', outcome: 'failure', subject: 'user-1', details: { reason: "it's \"quoted\" — ünïcode", attempts: 3, locked: false, scopes: ['a', 'b'] } }),
      audit({ type: 'logout', outcome: 'success' }),
    ]);
    const after = new Date();
    const rows = await db.prisma.auditEvent.findMany({ where: { at: { gte: before, lte: after } }, orderBy: { type: 'asc' } });
    expect(rows.map((r) => r.type)).toEqual(['login.failure', 'logout', 'token.issued']);
    const [failure, logout, issued] = rows;
    expect(issued).toMatchObject({ outcome: 'success', subject: null, clientId: 'svc', ip: '203.0.113.9', details: { grant_type: 'client_credentials', api: 'urn:x:api', scope: null } });
    expect(failure).toMatchObject({ outcome: 'failure', subject: 'user-1', clientId: null, ip: null, details: { reason: "it's \"quoted\" — ünïcode", attempts: 3, locked: false, scopes: ['a', 'b'] } });
    expect(logout!.details).toBeNull();
    for (const row of rows) {
      expect(row.at).toBeInstanceOf(Date);
      expect(row.at.getTime()).toBeGreaterThanOrEqual(before.getTime());
      expect(row.at.getTime()).toBeLessThanOrEqual(after.getTime());
    }
    // Filtering on JSON-free columns and on time works as for rows Prisma wrote itself.
    expect(await db.prisma.auditEvent.count({ where: { details: { equals: { grant_type: 'client_credentials', api: 'urn:x:api', scope: null } } } })).toBe(1);
  });

  it('stores batches larger than one INSERT takes', async () => {
    const audit = createAuditWriter(db, silent);
    await Promise.all(Array.from({ length: 1203 }, (_, i) => audit({ type: 'client.auth_failed', outcome: 'failure', clientId: `c-${i}` })));
    expect(await db.prisma.auditEvent.count({ where: { type: 'client.auth_failed' } })).toBe(1203);
    expect(await db.prisma.auditEvent.findFirst({ where: { clientId: 'c-1202' } })).toMatchObject({ type: 'client.auth_failed' });
  });
});
