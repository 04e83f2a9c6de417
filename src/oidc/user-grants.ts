// A person's grants (one per sign-in session and client they consented to), for the admin CLI
// and the account page: listing with last use, revocation of everything a grant issued, and
// revocation of every token a person holds (a password reset).
//
// Revoking deletes the grant row with its tokens in one transaction. A refresh racing the
// revocation may still write a token after it, but that token is dead: oidc-provider looks the
// grant up at the token, userinfo and introspection endpoints and refuses tokens whose grant is
// gone (invalid_grant / invalid_token / inactive).
import { z } from 'zod';
import { UserError } from '../accounts/users.js';
import type { Db } from '../db/client.js';
import { formatZodIssues } from '../util/validation.js';
import { cutOffAccessTokens } from './access-token-cutoff.js';

export type UserGrant = { grantId: string; clientId: string; createdAt: Date; lastUsedAt: Date; expiresAt: Date | null };

const accountIdSchema = z.string({ message: 'must be a string' }).min(1, 'must not be empty').max(200, 'must be at most 200 characters');

function parseId(value: unknown, what: string): string {
  const parsed = accountIdSchema.safeParse(value);
  if (!parsed.success) throw new UserError('invalid', `invalid ${what}`, formatZodIssues(parsed.error));
  return parsed.data;
}

/** The person's unexpired grants, oldest first, each with when it was last used to mint a token. */
export async function listUserGrants(prisma: Db, accountId: string): Promise<UserGrant[]> {
  const account = parseId(accountId, 'user id');
  const now = new Date();
  const grants = await prisma.grant.findMany({
    where: { accountId: account, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });
  if (grants.length === 0) return [];
  // Every use of a grant (code exchange, refresh) mints a token row, so the newest one is its
  // last use. JWT access tokens are not stored, but each refresh that mints one rotates the
  // refresh token, which is.
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

/**
 * Revokes a person's grants (all, or one client's) and every token they issued; returns how
 * many grants were revoked. An empty client id is refused rather than read as "all clients".
 */
export async function revokeUserGrants(prisma: Db, accountId: string, clientId?: string): Promise<number> {
  const account = parseId(accountId, 'user id');
  const client = clientId === undefined ? undefined : parseId(clientId, 'client id');
  const grants = await prisma.grant.findMany({ where: { accountId: account, ...(client !== undefined ? { clientId: client } : {}) }, select: { id: true } });
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

/**
 * Revokes every token a person holds while keeping their grants (the record of consent): the
 * stored refresh tokens, access tokens and codes go, and each grant's JWT access tokens issued
 * until now read as inactive (a cutoff), offline_access grants included. For a password reset:
 * whoever knew the old password may hold any of them. Returns how many refresh tokens went.
 */
export async function revokePersonTokens(prisma: Db, accountId: string, at = new Date()): Promise<number> {
  const account = parseId(accountId, 'user id');
  const grants = await prisma.grant.findMany({ where: { accountId: account }, select: { id: true } });
  await cutOffAccessTokens(prisma, grants.map((g) => g.id), at);
  const ofPerson = { where: { accountId: account } };
  const [refresh] = await prisma.$transaction([
    prisma.refreshToken.deleteMany(ofPerson),
    prisma.accessToken.deleteMany(ofPerson),
    prisma.authorizationCode.deleteMany(ofPerson),
  ]);
  return refresh.count;
}
