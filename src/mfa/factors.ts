// A person's second factors as the rest of Gatehouse sees them: which exist (never a secret),
// whether any counts, and removing them all (user mfa reset). Each kind's own file handles its
// enrolment and verification.
import type { Db } from '../db/client.js';

export type FactorView = {
  kind: 'totp' | 'passkey' | 'recovery_codes';
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  /** Passkeys: synced (backed up) or bound to one device. Recovery codes: how many are left. */
  detail: string | null;
};

/** Confirmed factors only: an unconfirmed TOTP enrolment does not count. */
export async function listFactors(prisma: Db, userId: string): Promise<FactorView[]> {
  const [totps, passkeys, codes] = await Promise.all([
    prisma.mfaTotp.findMany({ where: { userId, confirmedAt: { not: null } }, orderBy: { createdAt: 'asc' } }),
    prisma.mfaPasskey.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } }),
    prisma.mfaRecoveryCode.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } }),
  ]);
  const views: FactorView[] = [
    ...totps.map((t) => ({
      kind: 'totp' as const,
      id: t.id,
      name: 'Authenticator app',
      created_at: (t.confirmedAt ?? t.createdAt).toISOString(),
      last_used_at: t.lastUsedAt?.toISOString() ?? null,
      detail: null,
    })),
    ...passkeys.map((p) => ({
      kind: 'passkey' as const,
      id: p.id,
      name: p.name,
      created_at: p.createdAt.toISOString(),
      last_used_at: p.lastUsedAt?.toISOString() ?? null,
      detail: p.backedUp ? 'synced' : 'device-bound',
    })),
  ];
  if (codes.length) {
    const used = codes.filter((c) => c.usedAt);
    const lastUsed = used.map((c) => c.usedAt!.getTime()).sort((a, b) => b - a)[0];
    views.push({
      kind: 'recovery_codes',
      id: 'recovery-codes',
      name: 'Recovery codes',
      created_at: codes[0]!.createdAt.toISOString(),
      last_used_at: lastUsed ? new Date(lastUsed).toISOString() : null,
      detail: `${codes.length - used.length} of ${codes.length} left`,
    });
  }
  return views;
}

/** Whether the person has a factor to sign in with (recovery codes alone do not count: they back one up). */
export async function hasSecondFactor(prisma: Db, userId: string): Promise<boolean> {
  const [totp, passkey] = await Promise.all([
    prisma.mfaTotp.count({ where: { userId, confirmedAt: { not: null } } }),
    prisma.mfaPasskey.count({ where: { userId } }),
  ]);
  return totp + passkey > 0;
}

/** Removes every factor and recovery code of a person; returns how many rows went. */
export async function removeAllFactors(prisma: Db, userId: string): Promise<number> {
  const [totps, passkeys, codes] = await prisma.$transaction([
    prisma.mfaTotp.deleteMany({ where: { userId } }),
    prisma.mfaPasskey.deleteMany({ where: { userId } }),
    prisma.mfaRecoveryCode.deleteMany({ where: { userId } }),
  ]);
  return totps.count + passkeys.count + codes.count;
}
