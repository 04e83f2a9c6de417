// The one entry point for OpenID Connect Back-Channel Logout 1.0: a person's sessions ended (by
// end_session, `user disable`, grant revocation or a sign-out from the account page) become one
// logout token per client that registered a backchannel_logout_uri, queued in the outbox
// (src/webhooks) and signed when sent. Call it before the sessions or grants are deleted: their
// rows say which clients the person used and the `sid` each client was told (§2.1).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { enqueueDeliveries, type NewDelivery } from '../webhooks/outbox.js';

/** What a logout token says, stored in the outbox row's payload (never a credential). */
export const logoutClaimsSchema = z.strictObject({ sub: z.string().min(1), sid: z.string().min(1).optional() });
type LogoutClaims = z.infer<typeof logoutClaimsSchema>;

export type BackchannelLogoutRequest = {
  accountId: string;
  /** Only this client (grant revocation of one client); all of the person's clients otherwise. */
  clientId?: string;
  /**
   * Only these sessions: their Session row ids, which are oidc-provider's `session.jti` (e.g. the
   * one signed out on the account page, read with signedInSession); every session of the person
   * otherwise, plus clients holding a grant without one.
   */
  sessionIds?: readonly string[];
};

const sessionPayloadSchema = z.object({ authorizations: z.record(z.string(), z.object({ sid: z.string().optional() }).loose()).optional() }).loose();

/** Each (client, sid) pair the request covers; a client known only from a grant has no sid. */
async function logoutsFor(prisma: Db, request: BackchannelLogoutRequest): Promise<Map<string, Set<string | undefined>>> {
  const pairs = new Map<string, Set<string | undefined>>();
  const add = (clientId: string, sid: string | undefined) => {
    if (request.clientId !== undefined && clientId !== request.clientId) return;
    const sids = pairs.get(clientId) ?? new Set<string | undefined>();
    sids.add(sid);
    pairs.set(clientId, sids);
  };
  const sessions = await prisma.session.findMany({
    where: { accountId: request.accountId, ...(request.sessionIds ? { id: { in: [...request.sessionIds] } } : {}) },
    select: { payload: true },
  });
  for (const session of sessions) {
    const parsed = sessionPayloadSchema.safeParse(session.payload);
    if (!parsed.success) continue;
    for (const [clientId, authorization] of Object.entries(parsed.data.authorizations ?? {})) add(clientId, authorization.sid);
  }
  if (!request.sessionIds) {
    const grants = await prisma.grant.findMany({ where: { accountId: request.accountId }, select: { clientId: true } });
    for (const grant of grants) if (grant.clientId && !pairs.has(grant.clientId)) add(grant.clientId, undefined);
  }
  return pairs;
}

/** Queues the logout tokens for a person's sessions; returns how many. */
export async function queueBackchannelLogout(prisma: Db, request: BackchannelLogoutRequest): Promise<number> {
  const pairs = await logoutsFor(prisma, request);
  return queueLogoutTokens(
    prisma,
    request.accountId,
    [...pairs].flatMap(([clientId, sids]) => [...sids].map((sid) => ({ clientId, sid }))),
  );
}

/** One logout token per (client, sid) for clients that registered a backchannel_logout_uri; returns how many. */
export async function queueLogoutTokens(prisma: Db, accountId: string, logouts: readonly { clientId: string; sid: string | undefined }[]): Promise<number> {
  if (logouts.length === 0) return 0;
  const clients = await prisma.client.findMany({
    where: { id: { in: [...new Set(logouts.map((l) => l.clientId))] }, backchannelLogoutUri: { not: null } },
    select: { id: true, backchannelLogoutUri: true },
  });
  const uris = new Map(clients.map((c) => [c.id, c.backchannelLogoutUri!]));
  const deliveries: NewDelivery[] = [];
  for (const { clientId, sid } of logouts) {
    const url = uris.get(clientId);
    if (!url) continue;
    const claims: LogoutClaims = { sub: accountId, ...(sid ? { sid } : {}) };
    deliveries.push({
      id: `bcl_${randomBytes(12).toString('hex')}`,
      kind: 'backchannel-logout',
      clientId,
      url,
      eventType: 'backchannel.logout',
      payload: JSON.stringify(claims),
    });
  }
  await enqueueDeliveries(prisma, deliveries);
  return deliveries.length;
}
