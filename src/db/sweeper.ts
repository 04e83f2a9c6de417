// Removes expired oidc-provider artifacts. Expired rows are already invisible to the adapter;
// sweeping only keeps tables small. Safe to run on every instance at once (idempotent deletes).
import type { Db } from './client.js';
import { ARTIFACT_MODELS, artifactDelegate } from './oidc-adapter.js';
import { runEvery, type PeriodicTask } from '../util/run-every.js';

export type SweepResult = Record<string, number>;

export async function sweepExpiredArtifacts(prisma: Db, now = new Date()): Promise<SweepResult> {
  const removed: SweepResult = {};
  for (const model of ARTIFACT_MODELS) {
    const { count } = await artifactDelegate(prisma, model).deleteMany({ where: { expiresAt: { lt: now } } });
    if (count) removed[model] = count;
  }
  return removed;
}

export type Sweeper = PeriodicTask;

/** Runs `sweep` every `intervalSeconds`; the timer never keeps the process alive. */
export function startSweeper(sweep: () => Promise<unknown>, intervalSeconds: number, onError: (error: unknown) => void): Sweeper {
  return runEvery(sweep, intervalSeconds, onError);
}
