// Which Gatehouse account an upstream identity signs in to. The identity (upstream, subject) is
// the only key; an email decides nothing on its own (the "nOAuth" class of account takeover: an
// email claim that is unverified or that the person can change at the upstream). In order:
//  1. the identity is linked: that account;
//  2. an account has the asserted email: linked at once only when the upstream asserts the email
//     verified AND the operator marked the upstream trusted for email; otherwise the person must
//     prove the account first (proveExistingAccount), and a person without a password cannot;
//  3. no such account: created just in time when the upstream allows it (an email is needed:
//     it is the account's sign-in name), else refused.
import type { AuditWriter } from '../audit/audit.js';
import { authenticate, type LockoutPolicy } from '../accounts/authenticate.js';
import type { PasswordHasher } from '../accounts/passwords.js';
import { createPasswordlessUser, getUserByEmail, getUserById, UserError } from '../accounts/users.js';
import type { Db } from '../db/client.js';
import type { FlowOutcome } from './flows.js';
import { findLinkedUser, linkIdentity, recordIdentitySignIn } from './identities.js';
import type { UpstreamIdentity } from './oauth-client.js';
import type { UpstreamView } from './registry.js';

type LinkingDeps = { prisma: Db; audit: AuditWriter };

export type SignInContext = { ip: string; clientId: string };

export async function resolveAccount(deps: LinkingDeps, upstream: UpstreamView, identity: UpstreamIdentity, at: SignInContext): Promise<FlowOutcome> {
  const { prisma, audit } = deps;
  const base = { upstreamId: upstream.id, subject: identity.subject };
  const failed = (reason: string): FlowOutcome => ({ type: 'failed', upstreamId: upstream.id, reason, displayName: upstream.display_name });

  const linkedUserId = await findLinkedUser(prisma, upstream.id, identity.subject);
  if (linkedUserId) {
    const user = await getUserById(prisma, linkedUserId);
    if (!user || user.disabled) return failed('account_disabled');
    await recordIdentitySignIn(prisma, upstream.id, identity.subject, identity.email);
    return { type: 'signed_in', userId: user.id, ...base };
  }

  const existing = identity.email ? await getUserByEmail(prisma, identity.email) : null;
  if (existing) {
    if (existing.disabled) return failed('account_disabled');
    if (upstream.trust_email && identity.emailVerified) {
      const link = await linkIdentity(prisma, existing.id, upstream.id, identity.subject, identity.email);
      if (!link.linked) return failed('identity_linked_elsewhere');
      await audit({ type: 'identity.linked', outcome: 'success', subject: existing.id, clientId: at.clientId, ip: at.ip, details: { upstream: upstream.id, via: 'verified_email' } });
      return { type: 'signed_in', userId: existing.id, ...base };
    }
    // Never linked on an email the upstream did not verify, or that it is not trusted for: the
    // person proves the account, and without a password there is nothing they can prove here.
    if (!existing.has_password) return failed('account_exists');
    return { type: 'confirm_link', userId: existing.id, email: existing.email, upstreamEmail: identity.email, ...base };
  }

  if (!upstream.create_users) return failed('no_account');
  if (!identity.email) return failed('email_required');
  let created;
  try {
    created = await createPasswordlessUser(prisma, {
      email: identity.email,
      ...(identity.name ? { name: identity.name } : {}),
      // The email_verified claim Gatehouse publishes: only what a trusted upstream verified.
      email_verified: identity.emailVerified && upstream.trust_email,
    });
  } catch (error) {
    // Another sign-in created the account a moment ago: start again to take the path above.
    if (error instanceof UserError && error.code === 'duplicate_email') return failed('try_again');
    throw error;
  }
  const link = await linkIdentity(prisma, created.id, upstream.id, identity.subject, identity.email);
  if (!link.linked) {
    await prisma.user.deleteMany({ where: { id: created.id } });
    return failed('try_again');
  }
  await audit({ type: 'user.created', outcome: 'success', subject: created.id, clientId: at.clientId, ip: at.ip, details: { via: 'upstream', upstream: upstream.id, just_in_time: true } });
  await audit({ type: 'identity.linked', outcome: 'success', subject: created.id, clientId: at.clientId, ip: at.ip, details: { upstream: upstream.id, via: 'just_in_time' } });
  return { type: 'signed_in', userId: created.id, ...base };
}

export type ProofDeps = LinkingDeps & { hasher: PasswordHasher; lockout: LockoutPolicy };

/**
 * The one place where a person proves they hold an existing account before an upstream identity
 * is linked to it: the account's password, with its lockout. A second factor, for people who
 * have one, is to be checked here as well (wired where second factors are).
 */
export async function proveExistingAccount(deps: ProofDeps, account: { userId: string; email: string }, password: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  const result = await authenticate(deps.prisma, deps.hasher, deps.lockout, { email: account.email, password });
  if (!result.ok) return { ok: false, reason: result.reason };
  if (result.userId !== account.userId) return { ok: false, reason: 'account_changed' };
  return { ok: true };
}
