// Shared by the reliability suites: a view of a server process that the sign-in and refresh
// helpers accept (they only use the issuer and a Prisma client), a mixed-load driver, and a
// figures log that the suites print so results can be quoted.
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import type { Db } from '../../src/db/client.js';
import type { TestGatehouse } from '../support/gatehouse.js';

/** The helpers in test/support/signin.ts and test/support/refresh.ts need only these two. */
export function viewOf(issuer: string, prisma: Db): TestGatehouse {
  return { config: { issuer }, db: { prisma } } as unknown as TestGatehouse;
}

/** Prints figures and appends them to $GATEHOUSE_TEST_RUN_DIR/reliability-figures.jsonl. */
export function report(suite: string, figures: Record<string, unknown>): void {
  const line = JSON.stringify({ suite, at: new Date().toISOString(), ...figures });
  console.log(`[reliability] ${line}`);
  appendFileSync(path.join(process.env.GATEHOUSE_TEST_RUN_DIR ?? '/tmp', 'reliability-figures.jsonl'), `${line}\n`);
}

export type LoadTally = { requests: number; byStatus: Map<number, number>; failures: string[] };

export function newTally(): LoadTally {
  return { requests: 0, byStatus: new Map(), failures: [] };
}

export function count(tally: LoadTally, status: number): void {
  tally.requests += 1;
  tally.byStatus.set(status, (tally.byStatus.get(status) ?? 0) + 1);
}

export function statuses(tally: LoadTally): Record<string, number> {
  return Object.fromEntries([...tally.byStatus.entries()].sort(([a], [b]) => a - b).map(([s, n]) => [String(s), n]));
}

/**
 * Runs `worker` in `concurrency` loops until `until()` says stop. Callers start the load and
 * await it later, so the returned promise is marked handled at once: a worker that fails
 * before the caller awaits must surface at that await, not as an unhandled rejection that
 * fails the whole suite.
 */
export function loops(concurrency: number, until: () => boolean, worker: (loop: number) => Promise<void>): Promise<void> {
  const all = Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      while (!until()) await worker(loop);
    }),
  ).then(() => undefined);
  all.catch(() => undefined);
  return all;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
