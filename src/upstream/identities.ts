// A person's identities at upstream identity providers. An identity is (upstream id, subject):
// what the upstream itself says never changes for that person (OpenID Connect Core §5.7: "sub" is
// the only claim a relying party may use as a unique identifier; an email is not one). One
// identity belongs to at most one person (unique index), a person may hold several.
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/unique-violation.js';

export type IdentityView = {
  upstream_id: string;
  subject: string;
  email: string | null;
  linked_at: string;
  last_sign_in_at: string | null;
};

type IdentityRow = { upstreamId: string; subject: string; email: string | null; createdAt: Date; lastSignInAt: Date | null };

function toView(row: IdentityRow): IdentityView {
  return {
    upstream_id: row.upstreamId,
    subject: row.subject,
    email: row.email,
    linked_at: row.createdAt.toISOString(),
    last_sign_in_at: row.lastSignInAt?.toISOString() ?? null,
  };
}

/** The person an identity is linked to, if any. */
export async function findLinkedUser(prisma: Db, upstreamId: string, subject: string): Promise<string | null> {
  const row = await prisma.linkedIdentity.findUnique({ where: { upstreamId_subject: { upstreamId, subject } }, select: { userId: true } });
  return row?.userId ?? null;
}

export type LinkOutcome = { linked: true } | { linked: false; reason: 'linked_to_another' };

/**
 * Links an identity to a person with one insert: two sign-ins racing to link the same identity
 * cannot both win (the unique index decides). Linking it again to the same person is a success.
 */
export async function linkIdentity(prisma: Db, userId: string, upstreamId: string, subject: string, email: string | null): Promise<LinkOutcome> {
  try {
    await prisma.linkedIdentity.create({ data: { id: randomUUID(), userId, upstreamId, subject, email, lastSignInAt: new Date() } });
    return { linked: true };
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
    const owner = await findLinkedUser(prisma, upstreamId, subject);
    return owner === userId ? { linked: true } : { linked: false, reason: 'linked_to_another' };
  }
}

export async function recordIdentitySignIn(prisma: Db, upstreamId: string, subject: string, email: string | null): Promise<void> {
  await prisma.linkedIdentity.updateMany({ where: { upstreamId, subject }, data: { lastSignInAt: new Date(), email } });
}

export async function listIdentities(prisma: Db, userId: string): Promise<IdentityView[]> {
  const rows = await prisma.linkedIdentity.findMany({ where: { userId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map(toView);
}

/** Removes a person's identity at one upstream; returns how many were removed (0 or more). */
export async function unlinkIdentities(prisma: Db, userId: string, upstreamId: string, subject?: string): Promise<IdentityView[]> {
  const rows = await prisma.linkedIdentity.findMany({ where: { userId, upstreamId, ...(subject !== undefined ? { subject } : {}) } });
  if (rows.length === 0) return [];
  await prisma.linkedIdentity.deleteMany({ where: { id: { in: rows.map((r) => r.id) } } });
  return rows.map(toView);
}
