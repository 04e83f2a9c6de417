// Consent remembered per person and client, across sessions.
//
// oidc-provider keeps one Grant per session and client, found through the session
// (its default loadExistingGrant), so a new session would ask for consent again. Here, when the
// session has no grant for the client yet, the newest grant this person gave this client in an
// earlier session is looked up (Grant rows are indexed by accountId and clientId) and what it
// covers is copied into a new grant for this session. The consent prompt then asks only for
// scopes not granted before (OpenID Connect Core §3.1.2.4 lets the server use prior consent).
//
// Copying rather than sharing keeps each session's grant, and the tokens issued under it, its
// own: signing out or a detected refresh-token replay in one browser revokes that session's
// grant only. Consent outlives a sign-out (revokeGrantPolicy keeps the grant at end_session,
// while its session-bound tokens are still revoked) and lasts as long as grants do
// (ttl.Grant), counted from the last sign-in that used it. Revoking a person's grants
// (src/oidc/user-grants.ts) forgets the consent.
import type { Grant, KoaContextWithOIDC } from 'oidc-provider';
import type { Db } from '../db/client.js';

async function sessionGrant(ctx: KoaContextWithOIDC, accountId: string, clientId: string): Promise<Grant | undefined> {
  // The grant just consented to in this request, else the one this session holds (the default).
  const grantId = (ctx.oidc.result?.consent?.grantId) ?? ctx.oidc.session?.grantIdFor(clientId);
  if (!grantId) return undefined;
  const grant = await ctx.oidc.provider.Grant.find(grantId);
  // A grant of another person or client is never reused (oidc-provider would fail hard on it).
  return grant && grant.accountId === accountId && grant.clientId === clientId ? grant : undefined;
}

async function rememberedGrant(prisma: Db, ctx: KoaContextWithOIDC, accountId: string, clientId: string): Promise<Grant | undefined> {
  const now = new Date();
  const rows = await prisma.grant.findMany({
    where: { accountId, clientId, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    orderBy: { createdAt: 'desc' },
    select: { id: true },
    take: 5,
  });
  for (const { id } of rows) {
    const previous = await ctx.oidc.provider.Grant.find(id);
    if (!previous || previous.accountId !== accountId || previous.clientId !== clientId) continue;
    const grant = new ctx.oidc.provider.Grant({ accountId, clientId });
    const scope = previous.getOIDCScope();
    if (scope) grant.addOIDCScope(scope);
    const claims = previous.getOIDCClaims();
    if (claims.length) grant.addOIDCClaims(claims);
    for (const resource of Object.keys(previous.resources ?? {})) {
      const resourceScope = previous.getResourceScope(resource);
      if (resourceScope) grant.addResourceScope(resource, resourceScope);
    }
    await grant.save();
    return grant;
  }
  return undefined;
}

export function loadRememberedGrant(prisma: Db) {
  return async (ctx: KoaContextWithOIDC): Promise<Grant | undefined> => {
    const clientId = ctx.oidc.client?.clientId;
    const accountId = ctx.oidc.session?.accountId;
    if (!clientId || !accountId) return undefined;
    return (await sessionGrant(ctx, accountId, clientId)) ?? (await rememberedGrant(prisma, ctx, accountId, clientId));
  };
}
