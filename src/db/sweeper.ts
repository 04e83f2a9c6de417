// Removes expired oidc-provider artifacts, audit events past their retention (AUDIT_RETENTION),
// and revocations of JWT access tokens that have expired (src/oidc/jwt-access-tokens.ts). Expired artifacts are already invisible to the adapter; sweeping only keeps
// tables small. Safe to run on every instance at once (idempotent deletes).
import type { Db } from './client.js';
import { ARTIFACT_MODELS, artifactDelegate, EXPIRY_CHECKED_BY_PROVIDER } from './oidc-adapter.js';
import { runEvery, type PeriodicTask } from '../util/run-every.js';

export type SweepResult = Record<string, number>;

/**
 * Expired device codes are kept this long, so that a device still polling after expiry is told
 * `expired_token` (RFC 8628 §3.5) rather than `invalid_grant`; they can no longer be used.
 */
export const EXPIRED_DEVICE_CODE_RETENTION_SECONDS = 3600;

export async function sweepExpiredArtifacts(prisma: Db, now = new Date()): Promise<SweepResult> {
  const removed: SweepResult = {};
  for (const model of ARTIFACT_MODELS) {
    const retention = EXPIRY_CHECKED_BY_PROVIDER.has(model) ? EXPIRED_DEVICE_CODE_RETENTION_SECONDS * 1000 : 0;
    const cutoff = new Date(now.getTime() - retention);
    const { count } = await artifactDelegate(prisma, model).deleteMany({ where: { expiresAt: { lt: cutoff } } });
    if (count) removed[model] = count;
  }
  return removed;
}

/** Deletes audit events older than `retentionSeconds`; returns how many. */
async function sweepOldAuditEvents(prisma: Db, retentionSeconds: number, now = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionSeconds * 1000);
  const { count } = await prisma.auditEvent.deleteMany({ where: { at: { lt: cutoff } } });
  return count;
}

/** One sweep: expired artifacts, then audit events past retention (counted as AuditEvent). */
export async function sweepExpiredRows(prisma: Db, auditRetentionSeconds: number, now = new Date()): Promise<SweepResult> {
  const removed = await sweepExpiredArtifacts(prisma, now);
  const audit = await sweepOldAuditEvents(prisma, auditRetentionSeconds, now);
  if (audit) removed.AuditEvent = audit;
  // A revoked JWT access token's row matters only until the token itself expires.
  const { count: revoked } = await prisma.revokedAccessToken.deleteMany({ where: { expiresAt: { lt: now } } });
  if (revoked) removed.RevokedAccessToken = revoked;
  const { count: cutoffs } = await prisma.grantAccessTokenCutoff.deleteMany({ where: { expiresAt: { lt: now } } });
  if (cutoffs) removed.GrantAccessTokenCutoff = cutoffs;
  // Emailed links (password reset, verification) are refused once expired; their rows go too.
  const { count: links } = await prisma.accountToken.deleteMany({ where: { expiresAt: { lt: now } } });
  if (links) removed.AccountToken = links;
  // An upstream sign-in in progress (src/upstream/) is useless once it expired.
  const { count: upstream } = await prisma.upstreamAuthorization.deleteMany({ where: { expiresAt: { lt: now } } });
  if (upstream) removed.UpstreamAuthorization = upstream;
  return removed;
}

export type Sweeper = PeriodicTask;

/** Runs `sweep` every `intervalSeconds`; the timer never keeps the process alive. */
export function startSweeper(sweep: () => Promise<unknown>, intervalSeconds: number, onError: (error: unknown) => void): Sweeper {
  return runEvery(sweep, intervalSeconds, onError);
}
