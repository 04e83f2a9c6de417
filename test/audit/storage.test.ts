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

  it('finding 15.4: a row with characters a database refuses is stored escaped, and costs no other row of its batch', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const audit = createAuditWriter(db, logger);
    const victim = `victim-${provider}`;
    // One turn of the event loop: one batch, poisoned rows in the middle of good ones.
    await Promise.all([
      audit({ type: 'login.failure', outcome: 'failure', subject: victim, details: { reason: 'wrong_password' } }),
      audit({ type: 'client.auth_failed', outcome: 'failure', clientId: 'evil\u0000\u001b[2J', details: { endpoint: 'token', reason: 'nul \u0000 in details', list: ['a\u0000', 'lone \ud800 surrogate'] } }),
      audit({ type: 'login.failure', outcome: 'failure', subject: victim, ip: '203.0.113.\u0000', details: { reason: 'wrong_password' } }),
      audit({ type: 'account.locked', outcome: 'success', subject: victim }),
    ]);
    expect(await db.prisma.auditEvent.count({ where: { subject: victim } })).toBe(3);
    const poisoned = await db.prisma.auditEvent.findFirstOrThrow({ where: { clientId: { startsWith: 'evil' } } });
    // Escaped, not dropped: an operator still sees what was sent.
    expect(poisoned.clientId).toBe('evil\\u0000\\u001b[2J');
    expect(poisoned.details).toEqual({ endpoint: 'token', reason: 'nul \\u0000 in details', list: ['a\\u0000', 'lone \ufffd surrogate'] });
    expect(lines.join('')).not.toContain('failed to store audit event');
  });

  it('finding 15.4: a row the database still refuses is logged with its type and costs no other row', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const audit = createAuditWriter(db, logger);
    // After escaping, no text is refused any more; a value that cannot be encoded at all
    // (a BigInt in details, outside the declared type) stands in for whatever else may fail.
    await Promise.all([
      audit({ type: 'user.updated', outcome: 'success', subject: 'kept-1' }),
      audit({ type: 'user.unlocked', outcome: 'success', subject: 'refused', details: { n: 1n } } as never),
      audit({ type: 'user.updated', outcome: 'success', subject: 'kept-2' }),
    ]);
    expect(await db.prisma.auditEvent.count({ where: { subject: { in: ['kept-1', 'kept-2'] } } })).toBe(2);
    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'failed to store audit event');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ auditType: 'user.unlocked' });
  });

  it('the audit log line carries every field of the row, and censors a detail named like a credential', async () => {
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const audit = createAuditWriter(db, logger);
    await audit({ type: 'token.issued', outcome: 'success', subject: 'person-1', clientId: 'svc', ip: '203.0.113.7', details: { grant_type: 'refresh_token', scope: 'openid' } });
    // Details must never carry a credential; if one does by mistake, the log line does not show it.
    await audit({ type: 'login.failure', outcome: 'failure', subject: 'person-2', details: { reason: 'wrong_password', password: 'hunter2 hunter2', token: 'tok-123', code: 'code-456' } });
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; audit?: Record<string, unknown> }).filter((l) => l.audit);
    const rows = await db.prisma.auditEvent.findMany({ where: { subject: { in: ['person-1', 'person-2'] } }, orderBy: { subject: 'asc' } });
    expect(logged.map((l) => l.msg)).toEqual(['audit token.issued', 'audit login.failure']);
    expect(logged[0]!.audit).toEqual({ id: rows[0]!.id, type: 'token.issued', outcome: 'success', subject: 'person-1', clientId: 'svc', ip: '203.0.113.7', details: { grant_type: 'refresh_token', scope: 'openid' }, at: rows[0]!.at.toISOString() });
    expect(logged[1]!.audit!.details).toEqual({ reason: 'wrong_password', password: '[redacted]', token: '[redacted]', code: '[redacted]' });
    const text = lines.join('');
    for (const secret of ['hunter2', 'tok-123', 'code-456']) expect(text).not.toContain(secret);
  });

  it('stores batches larger than one INSERT takes', async () => {
    const audit = createAuditWriter(db, silent);
    await Promise.all(Array.from({ length: 1203 }, (_, i) => audit({ type: 'client.auth_failed', outcome: 'failure', clientId: `c-${i}` })));
    expect(await db.prisma.auditEvent.count({ where: { type: 'client.auth_failed', clientId: { startsWith: 'c-' } } })).toBe(1203);
    expect(await db.prisma.auditEvent.findFirst({ where: { clientId: 'c-1202' } })).toMatchObject({ type: 'client.auth_failed' });
  });
});
