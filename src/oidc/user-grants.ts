// A person's grants (one per client they signed in to with consent), for the admin CLI:
// listing with last use, and revocation of everything a grant issued.
import type { Db } from '../db/client.js';

export type UserGrant = { grantId: string; clientId: string; createdAt: Date; lastUsedAt: Date; expiresAt: Date | null };

export async function listUserGrants(prisma: Db, accountId: string): Promise<UserGrant[]> {
  const now = new Date();
  const grants = await prisma.grant.findMany({
    where: { accountId, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    orderBy: { createdAt: 'asc' },
  });
  if (grants.length === 0) return [];
  // Every use of a grant mints a token, so the newest token row is its last use.
  const ids = grants.map((g) => g.id);
  const [refresh, access] = await Promise.all([
    prisma.refreshToken.groupBy({ by: ['grantId'], where: { grantId: { in: ids } }, _max: { createdAt: true } }),
    prisma.accessToken.groupBy({ by: ['grantId'], where: { grantId: { in: ids } }, _max: { createdAt: true } }),
  ]);
  const lastUse = new Map<string, Date>();
  for (const row of [...refresh, ...access]) {
    const at = row._max.createdAt;
    if (row.grantId && at && at > (lastUse.get(row.grantId) ?? new Date(0))) lastUse.set(row.grantId, at);
  }
  return grants.map((g) => ({
    grantId: g.id,
    clientId: g.clientId ?? '',
    createdAt: g.createdAt,
    lastUsedAt: lastUse.get(g.id) ?? g.createdAt,
    expiresAt: g.expiresAt,
  }));
}

/** Revokes a person's grants (all, or one client's) and every token they issued. */
export async function revokeUserGrants(prisma: Db, accountId: string, clientId?: string): Promise<number> {
  const grants = await prisma.grant.findMany({ where: { accountId, ...(clientId ? { clientId } : {}) }, select: { id: true } });
  const grantIds = grants.map((g) => g.id);
  if (grantIds.length === 0) return 0;
  const ofGrants = { where: { grantId: { in: grantIds } } };
  // One transaction: a half-revoked grant must not leave a usable refresh token behind.
  await prisma.$transaction([
    prisma.accessToken.deleteMany(ofGrants),
    prisma.authorizationCode.deleteMany(ofGrants),
    prisma.refreshToken.deleteMany(ofGrants),
    prisma.deviceCode.deleteMany(ofGrants),
    prisma.backchannelAuthenticationRequest.deleteMany(ofGrants),
    prisma.grant.deleteMany({ where: { id: { in: grantIds } } }),
  ]);
  return grantIds.length;
}
