// A person's sign-in sessions (oidc-provider's Session model, stored through src/db/oidc-adapter.ts
// with the account in its own column): listing them for the account page, and signing them out.
//
// signOutSessions is the one way Gatehouse ends a person's sessions outside the end_session
// endpoint (the account page, a password reset): anything that must follow a sign-out
// (back-channel logout notices) hooks in here. Ending a session deletes its row, so its cookie
// names nothing any more and the browser is signed out at its next request. As a logout does
// (oidc-provider's end_session with logout=yes), the tokens each application got through the
// session are revoked, except those of grants that outlive a logout (offline_access:
// persistsLogout); the grants themselves stay as the record of consent (sign-in.ts
// revokeGrantPolicy), and JWT access tokens issued until now become inactive (a cutoff, as
// src/oidc/jwt-access-tokens.ts records when oidc-provider revokes a grant's tokens).
import { createHash } from 'node:crypto';
import type { AuditWriter } from '../audit/audit.js';
import type { Db } from '../db/client.js';
import { storedSessionFacts } from './provider-internals.js';
import { cutOffAccessTokens } from './access-token-cutoff.js';

/**
 * A session's id is also its cookie's value, so pages never show it: they name a session by this
 * handle, a digest that leads back to nothing.
 */
function sessionHandle(sessionId: string): string {
  return createHash('sha256').update(`session-handle\0${sessionId}`).digest('base64url').slice(0, 22);
}

export type PersonSession = { id: string; handle: string; loginAt: Date | null; createdAt: Date; expiresAt: Date | null };

/** The grants whose tokens end with the session (not offline_access ones). */
function sessionBoundGrants(payload: unknown): string[] {
  return storedSessionFacts(payload).grants.flatMap((g) => (g.persistsLogout ? [] : [g.grantId]));
}

async function revokeGrantTokens(prisma: Db, grantIds: string[], now: Date): Promise<void> {
  if (grantIds.length === 0) return;
  const ofGrants = { where: { grantId: { in: grantIds } } };
  await cutOffAccessTokens(prisma, grantIds, now);
  await prisma.$transaction([prisma.accessToken.deleteMany(ofGrants), prisma.refreshToken.deleteMany(ofGrants), prisma.authorizationCode.deleteMany(ofGrants)]);
}

export async function listPersonSessions(prisma: Db, accountId: string, now = new Date()): Promise<PersonSession[]> {
  const rows = await prisma.session.findMany({
    where: { accountId, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
  });
  return rows.map((row) => {
    const { loginTs } = storedSessionFacts(row.payload);
    return { id: row.id, handle: sessionHandle(row.id), loginAt: loginTs ? new Date(loginTs * 1000) : null, createdAt: row.createdAt, expiresAt: row.expiresAt };
  });
}

export type SignOutRequest = {
  accountId: string;
  /** Which sessions: these ids, or every one (`all`). Ids of another person's sessions end nothing. */
  sessions: string[] | 'all';
  /** A session to keep (the one asking, for "sign out everywhere else"). */
  except?: string;
  /** Why, for the audit trail: account_page, password_reset. */
  reason: string;
  ip?: string | null;
};

export type SessionSignOutDeps = {
  prisma: Db;
  audit: AuditWriter;
  /**
   * Runs before the sessions' rows go, which name the clients and `sid`s to tell: back-channel
   * logout (src/backchannel-logout), wired in src/gatehouse.ts so this folder imports no feature.
   */
  beforeSignOut?: (accountId: string, sessionIds: string[]) => Promise<void>;
};

/** Ends sessions of one person; returns the ids ended. */
export async function signOutSessions(deps: SessionSignOutDeps, request: SignOutRequest): Promise<string[]> {
  const rows = await deps.prisma.session.findMany({
    where: {
      accountId: request.accountId,
      ...(request.sessions === 'all' ? {} : { id: { in: request.sessions } }),
      ...(request.except ? { NOT: { id: request.except } } : {}),
    },
    select: { id: true, payload: true },
  });
  const ids = rows.map((row) => row.id);
  if (ids.length === 0) return [];
  await deps.beforeSignOut?.(request.accountId, ids);
  await deps.prisma.session.deleteMany({ where: { accountId: request.accountId, id: { in: ids } } });
  await revokeGrantTokens(deps.prisma, rows.flatMap((row) => sessionBoundGrants(row.payload)), new Date());
  await deps.audit({
    type: 'session.ended',
    outcome: 'success',
    subject: request.accountId,
    ip: request.ip ?? null,
    details: { reason: request.reason, sessions: ids.length },
  });
  return ids;
}
