// Audit events are kept for AUDIT_RETENTION, then swept with the other expired rows.
import { randomUUID } from 'node:crypto';
import { sweepExpiredRows } from '../../src/db/sweeper.js';
import { PROVIDERS } from '../support/databases.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const DAY = 86_400_000;

describe.each(PROVIDERS)('audit retention on %s', (provider) => {
  // The server keeps 400 days; the first test sweeps with 30 days itself, on rows the server's
  // own sweeps (every second) leave alone.
  const gh = useGatehouse(provider, { AUDIT_RETENTION: '400d', SWEEP_INTERVAL: '1s' });

  const event = (daysAgo: number) =>
    gh.db.prisma.auditEvent.create({
      data: { id: randomUUID(), type: 'login.failure', outcome: 'failure', ip: '192.0.2.1', details: { reason: 'wrong_password' }, at: new Date(Date.now() - daysAgo * DAY) },
    });

  test('a sweep deletes events older than the retention and keeps the rest', async () => {
    const now = new Date();
    const old = await event(45);
    const borderline = await event(29);
    const recent = await event(0);
    const removed = await sweepExpiredRows(gh.db.prisma, 30 * 86_400, now);
    expect(removed.AuditEvent).toBe(1);
    const left = new Set((await gh.db.prisma.auditEvent.findMany({ where: { id: { in: [old.id, borderline.id, recent.id] } } })).map((r) => r.id));
    expect(left).toEqual(new Set([borderline.id, recent.id]));
  });

  test("the running server's sweeper applies AUDIT_RETENTION", async () => {
    expect(gh.config.auditRetentionSeconds).toBe(400 * 86_400);
    const old = await event(401);
    const kept = await event(1);
    // SWEEP_INTERVAL is 1s here: poll until the old row is gone.
    for (let attempt = 0; attempt < 100; attempt++) {
      if (!(await gh.db.prisma.auditEvent.findUnique({ where: { id: old.id } }))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await gh.db.prisma.auditEvent.findUnique({ where: { id: old.id } })).toBeNull();
    expect(await gh.db.prisma.auditEvent.findUnique({ where: { id: kept.id } })).not.toBeNull();
  });
});
