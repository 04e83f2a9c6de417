// Checking an email and password, with per-account lockout (security checklist items 15, 16).
//
// Every attempt costs one argon2 verification, whatever the outcome: against the account's
// hash when the email is known (disabled and locked accounts included), against a dummy hash
// otherwise. The caller shows one generic message for every failure; the reason returned here
// is for the audit trail only.
//
// Lockout: `threshold` failures within `windowSeconds` of the first one lock the account for
// `durationSeconds`. Counting is done with conditional updates in the database, so concurrent
// attempts (on one instance or several) are all counted, and exactly one of them reports the
// lock (`lockedNow`) for the account.locked audit event.
import type { Db } from '../db/client.js';
import type { GatehouseConfig } from '../config.js';
import type { PasswordHasher } from './passwords.js';
import { EMAIL_MAX_LENGTH, normalizeEmail } from './users.js';

export type LockoutPolicy = GatehouseConfig['lockout'];

export type FailureReason = 'unknown_email' | 'wrong_password' | 'account_locked' | 'account_disabled';

export type AuthenticationResult =
  | { ok: true; userId: string; passwordRehashed: boolean }
  | {
      ok: false;
      reason: FailureReason;
      /** The account the email belongs to, when there is one. */
      userId: string | null;
      /** True for the one attempt that locked the account. */
      lockedNow: boolean;
      lockedUntil: Date | null;
    };

export type Credentials = { email: string; password: string };

export async function authenticate(
  prisma: Db,
  hasher: PasswordHasher,
  policy: LockoutPolicy,
  credentials: Credentials,
  now: Date = new Date(),
): Promise<AuthenticationResult> {
  const email = normalizeEmail(credentials.email);
  const user = email.length <= EMAIL_MAX_LENGTH ? await prisma.user.findUnique({ where: { email } }) : null;
  if (!user) {
    await hasher.verifyDummy(credentials.password);
    return { ok: false, reason: 'unknown_email', userId: null, lockedNow: false, lockedUntil: null };
  }

  const passwordMatches = await hasher.verify(user.passwordHash, credentials.password);
  const fail = (reason: FailureReason, lockedUntil: Date | null = null, lockedNow = false): AuthenticationResult => ({
    ok: false,
    reason,
    userId: user.id,
    lockedNow,
    lockedUntil,
  });

  if (user.disabled) return fail('account_disabled');
  // While locked, even the right password is refused, and attempts are not counted again.
  if (user.lockedUntil && user.lockedUntil > now) return fail('account_locked', user.lockedUntil);
  if (!passwordMatches) {
    const lock = await recordFailedAttempt(prisma, policy, user.id, now);
    return fail('wrong_password', lock.lockedUntil, lock.lockedNow);
  }

  // Success: forget failures, note the sign-in, and upgrade the hash if its costs are outdated
  // (the password is only ever available here).
  const passwordRehashed = hasher.needsRehash(user.passwordHash);
  await prisma.user.update({
    where: { id: user.id },
    data: {
      failedLoginCount: 0,
      failedLoginStartAt: null,
      lockedUntil: null,
      lastLoginAt: now,
      ...(passwordRehashed ? { passwordHash: await hasher.hash(credentials.password) } : {}),
    },
  });
  return { ok: true, userId: user.id, passwordRehashed };
}

/**
 * Counts one failure in the current window (or starts a window), then locks the account when
 * the count reaches the threshold. Returns whether this attempt locked it.
 */
export async function recordFailedAttempt(
  prisma: Db,
  policy: LockoutPolicy,
  userId: string,
  now: Date,
): Promise<{ lockedNow: boolean; lockedUntil: Date | null }> {
  const windowStart = new Date(now.getTime() - policy.windowSeconds * 1000);
  // Two tries: a concurrent attempt may start the window between our two conditional updates.
  for (let attempt = 0; attempt < 2; attempt++) {
    const counted = await prisma.user.updateMany({
      where: { id: userId, failedLoginStartAt: { gt: windowStart } },
      data: { failedLoginCount: { increment: 1 } },
    });
    if (counted.count > 0) break;
    const started = await prisma.user.updateMany({
      where: { id: userId, OR: [{ failedLoginStartAt: null }, { failedLoginStartAt: { lte: windowStart } }] },
      data: { failedLoginCount: 1, failedLoginStartAt: now },
    });
    if (started.count > 0) break;
  }

  const row = await prisma.user.findUnique({ where: { id: userId }, select: { failedLoginCount: true } });
  if (!row || row.failedLoginCount < policy.threshold) return { lockedNow: false, lockedUntil: null };

  const lockedUntil = new Date(now.getTime() + policy.durationSeconds * 1000);
  // Only an account not already locked is locked, so one attempt alone reports the lock. The
  // counter restarts: after the lock ends, a new window begins.
  const locked = await prisma.user.updateMany({
    where: { id: userId, OR: [{ lockedUntil: null }, { lockedUntil: { lte: now } }] },
    data: { lockedUntil, failedLoginCount: 0, failedLoginStartAt: null },
  });
  return { lockedNow: locked.count > 0, lockedUntil };
}
