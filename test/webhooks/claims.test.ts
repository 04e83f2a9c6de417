// The outbox claim (attack class: check, then act, under concurrency): many workers claiming at
// once, through several connection pools, each due message goes to exactly one of them, and a
// message under a live lease is not claimed again until the lease runs out. PostgreSQL uses
// FOR UPDATE SKIP LOCKED; SQLite one conditional UPDATE ... RETURNING.
import { openDatabase, type Database } from '../../src/db/client.js';
import { claimDue } from '../../src/webhooks/worker.js';
import { PROVIDERS, freshDatabase, type TestDatabase } from '../support/databases.js';

const MESSAGES = 100;
const WORKERS = 20;

describe.each(PROVIDERS)('claiming outbox messages on %s', (provider) => {
  let database: TestDatabase;
  let pools: Database[];

  beforeAll(async () => {
    database = await freshDatabase(provider);
    pools = await Promise.all([0, 1, 2, 3].map(() => openDatabase(database.url)));
  });
  afterAll(async () => {
    await Promise.all(pools.map((db) => db.close()));
    await database.drop();
  });

  test(`${WORKERS} workers claiming at once: every message claimed by exactly one; a leased one is not claimed again`, async () => {
    const prisma = pools[0]!.prisma;
    const now = new Date();
    await prisma.webhookDelivery.createMany({
      data: Array.from({ length: MESSAGES }, (_, i) => ({
        id: `msg_claim_${i}`,
        kind: 'backchannel-logout',
        url: 'https://rp.example/bcl',
        eventType: 'backchannel.logout',
        payload: '{}',
        nextAttemptAt: now,
        createdAt: now,
      })),
    });
    const claims = await Promise.all(
      Array.from({ length: WORKERS }, (_, worker) => claimDue(pools[worker % pools.length]!.prisma, provider, `worker-${worker}`, 10, new Date(), 60)),
    );
    const claimed = claims.flat();
    expect(claimed).toHaveLength(MESSAGES);
    expect(new Set(claimed).size).toBe(MESSAGES);
    const rows = await prisma.webhookDelivery.findMany();
    for (const row of rows) {
      expect(row.attempts).toBe(1);
      expect(claims[Number(row.leaseOwner!.slice('worker-'.length))]).toContain(row.id);
    }

    // Under a live lease nothing is claimed again; once it has run out, everything is.
    expect(await claimDue(prisma, provider, 'late', MESSAGES, new Date(), 60)).toEqual([]);
    const later = new Date(Date.now() + 61_000);
    expect((await claimDue(prisma, provider, 'after-lease', MESSAGES, later, 60)).sort()).toEqual([...claimed].sort());
  });
});
