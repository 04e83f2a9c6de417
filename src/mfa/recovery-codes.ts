// Recovery codes: ten one-time codes that stand in for a lost factor. Each is 10 characters of
// a 32-letter alphabet without look-alikes (50 bits), so a plain SHA-256 is a sufficient hash:
// guessing is bounded by the lockout, and a stolen table cannot be searched. They are shown once
// when generated; generating again replaces every earlier code. A code is spent by one
// conditional update, so it works once even when sent twice at the same moment.
import { createHash, randomInt, randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';

const COUNT = 10;
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const LENGTH = 10;

function hashOf(code: string): string {
  return createHash('sha256').update(`gatehouse recovery code\0${code}`).digest('base64url');
}

/** What a person typed, in the stored form: lower case, without spaces or dashes. */
function normalize(typed: string): string {
  return typed.toLowerCase().replace(/[\s-]/g, '');
}

function newCode(): string {
  let code = '';
  for (let i = 0; i < LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return code;
}

/** Shown as xxxxx-xxxxx for reading aloud and typing. */
function formatCode(code: string): string {
  return `${code.slice(0, 5)}-${code.slice(5)}`;
}

/** Replaces the person's codes with ten new ones and returns them (the only time they are readable). */
export async function generateRecoveryCodes(prisma: Db, userId: string): Promise<string[]> {
  const codes = Array.from({ length: COUNT }, newCode);
  await prisma.$transaction([
    prisma.mfaRecoveryCode.deleteMany({ where: { userId } }),
    prisma.mfaRecoveryCode.createMany({ data: codes.map((code) => ({ id: randomUUID(), userId, codeHash: hashOf(code) })) }),
  ]);
  return codes.map(formatCode);
}

export type RecoveryCodeUse = { ok: true; remaining: number } | { ok: false };

/** Spends one code of the person's; the answer says how many are left. */
export async function useRecoveryCode(prisma: Db, userId: string, typed: string, now = new Date()): Promise<RecoveryCodeUse> {
  const code = normalize(typed);
  if (code.length !== LENGTH || [...code].some((c) => !ALPHABET.includes(c))) return { ok: false };
  const spent = await prisma.mfaRecoveryCode.updateMany({ where: { userId, codeHash: hashOf(code), usedAt: null }, data: { usedAt: now } });
  if (spent.count === 0) return { ok: false };
  return { ok: true, remaining: await remainingRecoveryCodes(prisma, userId) };
}

export async function remainingRecoveryCodes(prisma: Db, userId: string): Promise<number> {
  return prisma.mfaRecoveryCode.count({ where: { userId, usedAt: null } });
}
