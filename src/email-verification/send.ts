// The two messages that prove an address: a verification link for the account's own address
// (after sign-up, `user create --send-verification`, or on request from the account page), and
// for an email change, a link to the new address; the change takes effect only when that link
// is followed (confirm.ts), and the old address is then told.
import { issueAccountToken } from '../accounts/account-tokens.js';
import { EMAIL_VERIFICATION_PATH } from '../http/endpoints.js';
import type { EmailVerificationDeps } from './deps.js';

type Account = { id: string; email: string; passwordHash: string | null };

/** What sending needs (the CLI has no routes, CSRF or limiters). */
type SendDeps = Pick<EmailVerificationDeps, 'config' | 'prisma' | 'mailer' | 'audit'>;

function confirmLink(deps: SendDeps, token: string, interaction?: string): string {
  const link = new URL(`${EMAIL_VERIFICATION_PATH}/confirm`, new URL(deps.config.issuer).origin);
  link.searchParams.set('token', token);
  if (interaction) link.searchParams.set('interaction', interaction);
  return link.href;
}

/** Resolves once the message is queued; `delivered` once it was delivered (or given up). */
export async function sendVerificationEmail(deps: SendDeps, user: Account, options: { interaction?: string; ip?: string | null } = {}): Promise<{ delivered: Promise<boolean> }> {
  const { ttlSeconds } = deps.config.emailVerification;
  const token = await issueAccountToken(deps.prisma, { purpose: 'verify_email', userId: user.id, email: user.email, passwordHash: user.passwordHash, ttlSeconds });
  const link = confirmLink(deps, token, options.interaction);
  const delivered = deps.mailer.send({
    to: user.email,
    subject: 'Confirm your email address',
    template: 'verify-email',
    data: { email: user.email, link, hours: Math.round(ttlSeconds / 3600) },
    links: [link],
    purpose: 'verify_email',
    userId: user.id,
  });
  await deps.audit({ type: 'email.verification_sent', outcome: 'success', subject: user.id, ip: options.ip ?? null, details: { purpose: 'verify_email' } });
  return { delivered };
}

export async function sendEmailChangeConfirmation(deps: SendDeps, user: Account, newEmail: string, ip?: string | null): Promise<void> {
  const { ttlSeconds } = deps.config.emailVerification;
  const token = await issueAccountToken(deps.prisma, { purpose: 'email_change', userId: user.id, email: newEmail, passwordHash: user.passwordHash, ttlSeconds });
  const link = confirmLink(deps, token);
  void deps.mailer.send({
    to: newEmail,
    subject: 'Confirm your new email address',
    template: 'email-change',
    data: { email: newEmail, oldEmail: user.email, link, hours: Math.round(ttlSeconds / 3600) },
    links: [link],
    purpose: 'email_change',
    userId: user.id,
  });
  await deps.audit({ type: 'email_change.requested', outcome: 'success', subject: user.id, ip: ip ?? null });
}
