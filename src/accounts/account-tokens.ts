// Single-use links sent by email: password reset, email verification, email change.
//
// A token is 256 random bits (base64url), shown only in the message; the database keeps its
// SHA-256 (a stolen table gives no working link, and a lookup by hash needs no constant-time
// compare). A token is refused when it is unknown, made for another purpose, expired, already
// used, or stale: made before the account's password changed (its passwordStamp no longer
// matches), or, for a verification, for an address that is no longer the account's. Using one
// is a single conditional update, so two requests with one token cannot both succeed.
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/client.js';

export type AccountTokenPurpose = 'password_reset' | 'verify_email' | 'email_change';

export type AccountTokenRefusal = 'unknown' | 'expired' | 'used' | 'stale';

type AccountTokenRow = { userId: string; email: string; purpose: AccountTokenPurpose };

/** Tokens are 43 base64url characters; anything else is refused before a database read. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

function isTokenShaped(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');

/** Changes whenever the password hash changes (a new password always gets a new salt). */
/** A person signing in only through an upstream has no password (null): that state is stamped too. */
function passwordStamp(passwordHash: string | null): string {
  return digest(passwordHash === null ? 'password-stamp-none' : `password-stamp\0${passwordHash}`);
}

export async function issueAccountToken(
  prisma: Db,
  input: { purpose: AccountTokenPurpose; userId: string; email: string; passwordHash: string | null; ttlSeconds: number },
  now = new Date(),
): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await prisma.accountToken.create({
    data: {
      id: digest(token),
      purpose: input.purpose,
      userId: input.userId,
      email: input.email,
      passwordStamp: passwordStamp(input.passwordHash),
      expiresAt: new Date(now.getTime() + input.ttlSeconds * 1000),
      createdAt: now,
    },
  });
  return token;
}

type Checked = { ok: true; row: AccountTokenRow } | { ok: false; reason: AccountTokenRefusal; userId: string | null };

/** Whether `token` could be used now for one of `purposes` (for the page that asks to confirm). */
export async function checkAccountToken(prisma: Db, purposes: readonly AccountTokenPurpose[], token: string, now = new Date()): Promise<Checked> {
  if (!isTokenShaped(token)) return { ok: false, reason: 'unknown', userId: null };
  const row = await prisma.accountToken.findUnique({ where: { id: digest(token) } });
  if (!row || !(purposes as readonly string[]).includes(row.purpose)) return { ok: false, reason: 'unknown', userId: null };
  if (row.usedAt) return { ok: false, reason: 'used', userId: row.userId };
  if (row.expiresAt <= now) return { ok: false, reason: 'expired', userId: row.userId };
  const user = await prisma.user.findUnique({ where: { id: row.userId }, select: { passwordHash: true, email: true, disabled: true } });
  if (!user || user.disabled || passwordStamp(user.passwordHash) !== row.passwordStamp) return { ok: false, reason: 'stale', userId: row.userId };
  // A verification link proves the address it was sent to, which must still be the account's.
  if (row.purpose === 'verify_email' && user.email !== row.email) return { ok: false, reason: 'stale', userId: row.userId };
  return { ok: true, row: { userId: row.userId, email: row.email, purpose: row.purpose as AccountTokenPurpose } };
}

/** Checks and uses `token` in one step: exactly one caller gets ok for a token. */
export async function useAccountToken(prisma: Db, purposes: readonly AccountTokenPurpose[], token: string, now = new Date()): Promise<Checked> {
  const checked = await checkAccountToken(prisma, purposes, token, now);
  if (!checked.ok) return checked;
  const used = await prisma.accountToken.updateMany({ where: { id: digest(token), usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now } });
  if (used.count === 0) return { ok: false, reason: 'used', userId: checked.row.userId };
  return checked;
}

/** Voids the account's unused tokens of these purposes (after a reset, a verification, a change). */
export async function voidAccountTokens(prisma: Db, userId: string, purposes: readonly AccountTokenPurpose[], now = new Date()): Promise<void> {
  await prisma.accountToken.updateMany({ where: { userId, purpose: { in: [...purposes] }, usedAt: null }, data: { usedAt: now } });
}
