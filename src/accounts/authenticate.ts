// Checking an email and password, with per-account lockout.
//
// Every attempt costs one argon2 verification, whatever the outcome: against the account's
// hash when the email is known and the attempt may proceed, against a dummy hash otherwise
// (unknown email, locked account). The caller shows one generic message for every failure; the
// reason returned here is for the audit trail only.
//
// Lockout: `threshold` failures within `windowSeconds` of the first one lock the account for
// `durationSeconds`. Reading the row, running argon2 and then checking the lock let every
// attempt of a burst through on the same stale row (attack classes: check, then act), so an
// attempt first reserves its place with one conditional update, counted as a failure until
// proven otherwise (`failedLoginCount`), and is refused without checking the password when
// the account is locked or the window's count is spent. At most `threshold` passwords are
// therefore checked per window, however many arrive at once, on one instance or several.
// A wrong password is then recorded as checked (`failedLoginChecked`); the attempt that brings
// that to the threshold locks the account, and exactly one attempt reports the lock
// (`lockedNow`) for the account.locked audit event.
import type { Db } from '../db/client.js';
import type { GatehouseConfig } from '../config.js';
import type { PasswordHasher } from './passwords.js';
import { EMAIL_MAX_LENGTH, normalizeEmail } from './users.js';

export type LockoutPolicy = GatehouseConfig['lockout'];

type FailureReason = 'unknown_email' | 'wrong_password' | 'account_locked' | 'account_disabled' | 'no_password';

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

export type AuthenticateOptions = {
  /**
   * Whether a right password ends the attempt, forgetting the window's failures (the default).
   * False when a second factor must follow (src/mfa): the password then only gives back its own
   * place, so wrong second-factor codes keep counting however often the password is re-entered.
   */
  completesSignIn?: (userId: string) => Promise<boolean>;
};

export async function authenticate(
  prisma: Db,
  hasher: PasswordHasher,
  policy: LockoutPolicy,
  credentials: Credentials,
  now: Date = new Date(),
  options: AuthenticateOptions = {},
): Promise<AuthenticationResult> {
  const email = normalizeEmail(credentials.email);
  const user = email.length <= EMAIL_MAX_LENGTH ? await prisma.user.findUnique({ where: { email } }) : null;
  if (!user) {
    await hasher.verifyDummy(credentials.password);
    return { ok: false, reason: 'unknown_email', userId: null, lockedNow: false, lockedUntil: null };
  }
  const fail = (reason: FailureReason, lockedUntil: Date | null = null, lockedNow = false): AuthenticationResult => ({
    ok: false,
    reason,
    userId: user.id,
    lockedNow,
    lockedUntil,
  });

  // A person who signs in only through upstream identity providers has no password: every
  // password is wrong for them, at the cost of a check, and nothing is counted towards a lock
  // (there is nothing to guess).
  const storedHash = user.passwordHash;
  if (storedHash === null) {
    await hasher.verifyDummy(credentials.password);
    return fail(user.disabled ? 'account_disabled' : 'no_password');
  }
  if (user.disabled) {
    await hasher.verify(storedHash, credentials.password);
    return fail('account_disabled');
  }
  if (!(await reserveAttempt(prisma, policy, user.id, now))) {
    // Refused before the password is checked; the dummy check keeps the time what a check costs.
    await hasher.verifyDummy(credentials.password);
    return fail('account_locked', await lockedUntilOf(prisma, user.id, now));
  }

  if (!(await hasher.verify(storedHash, credentials.password))) {
    const lock = await recordWrongPassword(prisma, policy, user.id, now);
    return fail('wrong_password', lock.lockedUntil, lock.lockedNow);
  }

  // The password is only ever available here: upgrade a hash whose costs are outdated.
  const passwordRehashed = hasher.needsRehash(storedHash);
  const passwordHash = passwordRehashed ? await hasher.hash(credentials.password) : undefined;
  const completes = options.completesSignIn ? await options.completesSignIn(user.id) : true;
  const recorded = completes ? await recordSuccess(prisma, user.id, now, passwordHash) : await recordFirstFactor(prisma, user.id, now, passwordHash);
  if (!recorded) {
    // Locked by concurrent wrong passwords while this one was being checked.
    return fail('account_locked', await lockedUntilOf(prisma, user.id, now));
  }
  return { ok: true, userId: user.id, passwordRehashed };
}

/** Not locked, or locked until a time that has passed. */
function notLocked(now: Date) {
  return { OR: [{ lockedUntil: null }, { lockedUntil: { lte: now } }] };
}

async function lockedUntilOf(prisma: Db, userId: string, now: Date): Promise<Date | null> {
  const row = await prisma.user.findUnique({ where: { id: userId }, select: { lockedUntil: true } });
  return row?.lockedUntil && row.lockedUntil > now ? row.lockedUntil : null;
}

/**
 * Counts one attempt in the current window (or starts a window) before its password is
 * checked, unless the account is locked or the window already holds `threshold` attempts.
 * Each step is one conditional update, so concurrent attempts cannot all pass the same check.
 */
async function reserveAttempt(prisma: Db, policy: LockoutPolicy, userId: string, now: Date): Promise<boolean> {
  const windowStart = new Date(now.getTime() - policy.windowSeconds * 1000);
  // Three tries: a concurrent attempt may start the window between our conditional updates.
  for (let attempt = 0; attempt < 3; attempt++) {
    const counted = await prisma.user.updateMany({
      where: { id: userId, AND: [notLocked(now), { failedLoginStartAt: { gt: windowStart } }, { failedLoginCount: { lt: policy.threshold } }] },
      data: { failedLoginCount: { increment: 1 } },
    });
    if (counted.count > 0) return true;
    const started = await prisma.user.updateMany({
      where: { id: userId, AND: [notLocked(now), { OR: [{ failedLoginStartAt: null }, { failedLoginStartAt: { lte: windowStart } }] }] },
      data: { failedLoginCount: 1, failedLoginChecked: 0, failedLoginStartAt: now },
    });
    if (started.count > 0) return true;
  }
  return false;
}

/**
 * Records a checked wrong password (its attempt was counted when reserved), then locks the
 * account when `threshold` wrong passwords have been checked in the window. Returns whether
 * this attempt locked it.
 */
async function recordWrongPassword(
  prisma: Db,
  policy: LockoutPolicy,
  userId: string,
  now: Date,
): Promise<{ lockedNow: boolean; lockedUntil: Date | null }> {
  await prisma.user.updateMany({ where: { id: userId }, data: { failedLoginChecked: { increment: 1 } } });
  const row = await prisma.user.findUnique({ where: { id: userId }, select: { failedLoginChecked: true } });
  if (!row || row.failedLoginChecked < policy.threshold) return { lockedNow: false, lockedUntil: null };

  const lockedUntil = new Date(now.getTime() + policy.durationSeconds * 1000);
  // Only an account not already locked is locked, so one attempt alone reports the lock. The
  // counts restart: after the lock ends, a new window begins.
  const locked = await prisma.user.updateMany({
    where: { id: userId, ...notLocked(now) },
    data: { lockedUntil, failedLoginCount: 0, failedLoginChecked: 0, failedLoginStartAt: null },
  });
  return { lockedNow: locked.count > 0, lockedUntil };
}

/**
 * A right password forgets the window's checked wrong passwords and gives back its own place,
 * but keeps counting the attempts other requests reserved and are still checking: forgetting
 * those too would let a burst check more than `threshold` passwords around one success. So the
 * count becomes (count - checked - 1), set by compare-and-swap on both counts (Prisma cannot
 * assign one column from others in one update). Sequentially (wrong, wrong, right, wrong) this
 * is today's reset: the last wrong password finds a count of 1. Only an account that nobody
 * locked meanwhile is touched; returns false when it was locked.
 */
async function recordSuccess(prisma: Db, userId: string, now: Date, passwordHash: string | undefined): Promise<boolean> {
  const signedIn = { lastLoginAt: now, lockedUntil: null, ...(passwordHash ? { passwordHash } : {}) };
  for (let attempt = 0; attempt < 8; attempt++) {
    const row = await prisma.user.findUnique({
      where: { id: userId },
      select: { failedLoginCount: true, failedLoginChecked: true, lockedUntil: true },
    });
    if (!row || (row.lockedUntil && row.lockedUntil > now)) return false;
    const swapped = await prisma.user.updateMany({
      where: { id: userId, failedLoginCount: row.failedLoginCount, failedLoginChecked: row.failedLoginChecked, ...notLocked(now) },
      data: { ...signedIn, failedLoginCount: Math.max(row.failedLoginCount - row.failedLoginChecked - 1, 0), failedLoginChecked: 0 },
    });
    if (swapped.count > 0) return true;
  }
  // Still contended: keep every count (this attempt stays counted as a failure, which only
  // errs towards locking) and just sign in, if nobody locked the account.
  const signed = await prisma.user.updateMany({ where: { id: userId, ...notLocked(now) }, data: signedIn });
  return signed.count > 0;
}

/**
 * A right password when a second factor must follow: gives back this attempt's own place and
 * nothing else, so the window's checked failures (wrong second-factor codes included) stay.
 * Returns false when the account was locked meanwhile.
 */
async function recordFirstFactor(prisma: Db, userId: string, now: Date, passwordHash: string | undefined): Promise<boolean> {
  const given = await prisma.user.updateMany({
    where: { id: userId, failedLoginCount: { gt: 0 }, ...notLocked(now) },
    data: { failedLoginCount: { decrement: 1 }, ...(passwordHash ? { passwordHash } : {}) },
  });
  if (given.count > 0) return true;
  return (await lockedUntilOf(prisma, userId, now)) === null;
}

export type SecondFactorCheck =
  | { ok: true }
  | { ok: false; reason: 'wrong_code' | 'account_locked'; lockedNow: boolean; lockedUntil: Date | null };

/**
 * A second-factor attempt (a TOTP code, a recovery code, a passkey assertion) under the same
 * lockout as passwords: counted before `verify` runs, refused unchecked while the account is
 * locked or the window's attempts are spent; a wrong one counts towards the lock, a right one
 * ends the sign-in and forgets the window's failures, as a right password does on its own.
 */
export async function checkSecondFactor(
  prisma: Db,
  policy: LockoutPolicy,
  userId: string,
  verify: () => Promise<boolean>,
  now: Date = new Date(),
): Promise<SecondFactorCheck> {
  if (!(await reserveAttempt(prisma, policy, userId, now))) {
    return { ok: false, reason: 'account_locked', lockedNow: false, lockedUntil: await lockedUntilOf(prisma, userId, now) };
  }
  if (!(await verify())) {
    const lock = await recordWrongPassword(prisma, policy, userId, now);
    return { ok: false, reason: 'wrong_code', ...lock };
  }
  if (!(await recordSuccess(prisma, userId, now, undefined))) {
    return { ok: false, reason: 'account_locked', lockedNow: false, lockedUntil: await lockedUntilOf(prisma, userId, now) };
  }
  return { ok: true };
}
