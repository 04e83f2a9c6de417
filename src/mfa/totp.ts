// TOTP (RFC 6238): 30-second steps, 6 digits, HMAC-SHA-1 (what authenticator apps implement;
// RFC 6238 §1.2 and RFC 4226 §4 require SHA-1 support). The 160-bit secret (RFC 4226 §4 R6) is
// sealed under the key-encryption key with the row id bound in, and only decrypted to check a
// code. A code is accepted one step either side of now (RFC 6238 §5.2, clock drift) and only
// for a step after the last one accepted, so a code cannot be used twice, even by two requests
// at once: the step is claimed by one conditional update.
import { randomUUID } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import QRCode from 'qrcode';
import type { Db } from '../db/client.js';
import { decryptSecret, encryptSecret, type KeyEncryptionKey } from '../keys/encryption.js';

const PERIOD = 30;
const DIGITS = 6;
const ALGORITHM = 'SHA1';

const sealedWith = (id: string) => `mfa-totp:${id}`;

function totpOf(secretBase32: string, label: string, issuer: string): TOTP {
  return new TOTP({ issuer, label, algorithm: ALGORITHM, digits: DIGITS, period: PERIOD, secret: Secret.fromBase32(secretBase32) });
}

export type TotpEnrolment = { id: string; secret: string; uri: string; qrSvg: string };

/**
 * Starts an enrolment: a new unconfirmed TOTP row (earlier unconfirmed ones of the person go).
 * The secret is returned once, to be shown with its QR code; it counts after confirmTotp.
 */
export async function startTotpEnrolment(prisma: Db, kek: KeyEncryptionKey, userId: string, label: string, issuer: string): Promise<TotpEnrolment> {
  const id = randomUUID();
  const secret = new Secret({ size: 20 }).base32;
  await prisma.mfaTotp.deleteMany({ where: { userId, confirmedAt: null } });
  await prisma.mfaTotp.create({ data: { id, userId, sealedSecret: encryptSecret(kek, secret, sealedWith(id)) } });
  return enrolmentView(id, secret, label, issuer);
}

/** The pending enrolment's secret again (the page was reloaded or a wrong code typed). */
export async function pendingTotpEnrolment(prisma: Db, kek: KeyEncryptionKey, userId: string, id: string, label: string, issuer: string): Promise<TotpEnrolment | undefined> {
  const row = await prisma.mfaTotp.findFirst({ where: { id, userId, confirmedAt: null } });
  if (!row) return undefined;
  return enrolmentView(id, decryptSecret(kek, row.sealedSecret, sealedWith(id)), label, issuer);
}

async function enrolmentView(id: string, secret: string, label: string, issuer: string): Promise<TotpEnrolment> {
  const uri = totpOf(secret, label, issuer).toString();
  // Rendered here as SVG markup: the page needs no script and no image request.
  const qrSvg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
  return { id, secret, uri, qrSvg };
}

/** The time step `code` matches for this secret (one step either side of now), or null. */
function matchingStep(secret: string, code: string, now: number): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const totp = new TOTP({ algorithm: ALGORITHM, digits: DIGITS, period: PERIOD, secret: Secret.fromBase32(secret) });
  const delta = totp.validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return null;
  return totp.counter({ timestamp: now }) + delta;
}

/** Claims `step` for the row: true for the one request that moves lastUsedStep past it. */
async function claimStep(prisma: Db, id: string, step: number, now: number, confirm: boolean): Promise<boolean> {
  const claimed = await prisma.mfaTotp.updateMany({
    where: { id, lastUsedStep: { lt: step }, ...(confirm ? { confirmedAt: null } : { confirmedAt: { not: null } }) },
    data: { lastUsedStep: step, lastUsedAt: new Date(now), ...(confirm ? { confirmedAt: new Date(now) } : {}) },
  });
  return claimed.count > 0;
}

/**
 * Confirms a pending enrolment with its first valid code; earlier confirmed TOTPs of the
 * person are replaced (one authenticator app per account).
 */
export async function confirmTotp(prisma: Db, kek: KeyEncryptionKey, userId: string, id: string, code: string, now = Date.now()): Promise<boolean> {
  const row = await prisma.mfaTotp.findFirst({ where: { id, userId, confirmedAt: null } });
  if (!row) return false;
  const step = matchingStep(decryptSecret(kek, row.sealedSecret, sealedWith(id)), code, now);
  if (step === null || !(await claimStep(prisma, id, step, now, true))) return false;
  await prisma.mfaTotp.deleteMany({ where: { userId, id: { not: id }, confirmedAt: { not: null } } });
  return true;
}

/** Checks a code against the person's confirmed TOTP; a step already used is refused. */
export async function verifyTotp(prisma: Db, kek: KeyEncryptionKey, userId: string, code: string, now = Date.now()): Promise<boolean> {
  const rows = await prisma.mfaTotp.findMany({ where: { userId, confirmedAt: { not: null } } });
  for (const row of rows) {
    const step = matchingStep(decryptSecret(kek, row.sealedSecret, sealedWith(row.id)), code, now);
    if (step !== null) return claimStep(prisma, row.id, step, now, false);
  }
  return false;
}

export async function hasTotp(prisma: Db, userId: string): Promise<boolean> {
  return (await prisma.mfaTotp.count({ where: { userId, confirmedAt: { not: null } } })) > 0;
}

export async function removeTotp(prisma: Db, userId: string): Promise<number> {
  return (await prisma.mfaTotp.deleteMany({ where: { userId } })).count;
}
