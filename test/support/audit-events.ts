// Waiting for the audit rows a request leaves behind.
import type { Db } from '../../src/db/client.js';

/**
 * Audit rows are written after the response (provider events); wait for the one expected.
 * Polls briefly; the assertion is on the row's content, never on timing.
 */
export async function auditEvents(prisma: Db, type: string, clientId: string | null, atLeast = 1) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const rows = await prisma.auditEvent.findMany({ where: { type, clientId }, orderBy: { at: 'asc' } });
    if (rows.length >= atLeast) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  return prisma.auditEvent.findMany({ where: { type, clientId }, orderBy: { at: 'asc' } });
}
