// The account page's forms. Each is posted with the CSRF token of its form and the person's
// session (routes.ts checks both first), validated with zod, and ends in a 303 back to the page
// (RFC 9110 §15.4.4) or the page again with the section's error. Every change is audited.
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { z } from 'zod';
import { passwordProblem } from '../accounts/passwords.js';
import { emailSchema, normalizeEmail, setPassword, updateUserProfile } from '../accounts/users.js';
import { sendEmailChangeConfirmation, sendVerificationEmail } from '../email-verification/send.js';
import { ACCOUNT_PATH } from '../http/endpoints.js';
import { clientAddressKey, setRateLimitHeaders } from '../http/rate-limit.js';
import { spendMailBudget } from '../mail/mail-budget.js';
import { signOutSessions, listPersonSessions } from '../oidc/sessions.js';
import { revokeUserGrants } from '../oidc/user-grants.js';
import { readForm } from '../sign-in/form.js';
import type { AccountPageDeps } from './deps.js';
import { renderAccountPage, type AccountForm, type SignedInPerson } from './page.js';

export type AccountChange = (ctx: Context, deps: AccountPageDeps, person: SignedInPerson) => Promise<void>;

/** A form posted without this session's token for it (routes.ts answers with the CSRF page). */
export class AccountCsrfRefused extends Error {
  override name = 'AccountCsrfRefused';
}

/** Reads the form and checks its CSRF token, bound to the form and to the person's session. */
async function readAccountForm<S extends z.ZodRawShape>(ctx: Context, deps: AccountPageDeps, person: SignedInPerson, form: AccountForm, shape: S): Promise<z.output<z.ZodObject<S>>> {
  const { csrf, ...fields } = (await readForm(ctx, z.strictObject({ ...shape, csrf: z.string().max(200).optional() }))) as { csrf?: string } & Record<string, unknown>;
  if (!deps.csrf.verify(`account-${form}`, person.session.id, csrf)) throw new AccountCsrfRefused();
  return fields as z.output<z.ZodObject<S>>;
}

function done(ctx: Context, what: string): void {
  ctx.status = 303;
  ctx.redirect(`${ACCOUNT_PATH}?done=${what}`);
}

function refuse(ctx: Context, deps: AccountPageDeps, person: SignedInPerson, form: AccountForm, message: string, status = 400): Promise<void> {
  return renderAccountPage(ctx, deps, person, { errors: { [form]: message }, status });
}

type PasswordCheck = { ok: true; passwordHash: string | null } | { ok: false; limited: boolean };

/**
 * The person's current password. Wrong ones spend the budget failed sign-ins spend for this
 * address and account (login-ip-account), so a borrowed session cannot guess it without bound;
 * a right one gives its point back, as at sign-in.
 */
async function currentPasswordMatches(ctx: Context, deps: AccountPageDeps, person: SignedInPerson, password: string): Promise<PasswordCheck> {
  const key = `${clientAddressKey(ctx.ip)}|${createHash('sha256').update(normalizeEmail(person.user.email)).digest('base64url')}`;
  const budget = await deps.passwordLimiter.consume(key);
  setRateLimitHeaders(ctx, budget);
  if (!budget.allowed) return { ok: false, limited: true };
  const row = await deps.prisma.user.findUnique({ where: { id: person.user.id }, select: { passwordHash: true } });
  // No password (upstream sign-in only): nothing can match, at the cost of a check.
  const ok = row?.passwordHash ? await deps.hasher.verify(row.passwordHash, password) : await deps.hasher.verifyDummy(password);
  if (!ok || !row) return { ok: false, limited: false };
  await deps.passwordLimiter.refund(key);
  return { ok: true, passwordHash: row.passwordHash };
}

async function wrongPassword(ctx: Context, deps: AccountPageDeps, person: SignedInPerson, form: AccountForm, check: { limited: boolean }, change: string): Promise<void> {
  await deps.audit({
    type: 'password.change_failed',
    outcome: 'failure',
    subject: person.user.id,
    ip: ctx.ip,
    details: { reason: check.limited ? 'rate_limited' : 'wrong_password', change },
  });
  return check.limited
    ? refuse(ctx, deps, person, form, 'Too many wrong passwords from your network. Try again later.', 429)
    : refuse(ctx, deps, person, form, 'Your current password is not right.');
}

export const changeName: AccountChange = async (ctx, deps, person) => {
  const form = await readAccountForm(ctx, deps, person, 'name', { name: z.string().max(1000) });
  const name = form.name.trim();
  if (!name || name.length > 200) return refuse(ctx, deps, person, 'name', 'Enter a name of at most 200 characters.');
  await updateUserProfile(deps.prisma, person.user.id, { name });
  await deps.audit({ type: 'user.updated', outcome: 'success', subject: person.user.id, ip: ctx.ip, details: { change: 'name', by: 'account_page' } });
  done(ctx, 'name');
};

export const changePassword: AccountChange = async (ctx, deps, person) => {
  const form = await readAccountForm(ctx, deps, person, 'password', { current_password: z.string().max(1024), new_password: z.string().max(1024) });
  const current = await currentPasswordMatches(ctx, deps, person, form.current_password);
  if (!current.ok) return wrongPassword(ctx, deps, person, 'password', current, 'password');
  const problem = passwordProblem(form.new_password);
  if (problem) return refuse(ctx, deps, person, 'password', `The new password ${problem}.`);
  // A new hash voids every emailed link made before (src/accounts/account-tokens.ts).
  await setPassword(deps.prisma, person.user.id, form.new_password);
  await deps.audit({ type: 'password.changed', outcome: 'success', subject: person.user.id, ip: ctx.ip, details: { by: 'account_page' } });
  done(ctx, 'password');
};

export const changeEmail: AccountChange = async (ctx, deps, person) => {
  const form = await readAccountForm(ctx, deps, person, 'email', { new_email: z.string().max(1000), current_password: z.string().max(1024) });
  const current = await currentPasswordMatches(ctx, deps, person, form.current_password);
  if (!current.ok) return wrongPassword(ctx, deps, person, 'email', current, 'email');
  const email = emailSchema.safeParse(form.new_email);
  if (!email.success) return refuse(ctx, deps, person, 'email', 'Enter a valid email address.');
  if (email.data === person.user.email) return refuse(ctx, deps, person, 'email', 'That is already your email address.');
  // Whether another account has the address is not said here: the link goes out either way,
  // and the change is refused when it is followed (src/email-verification/confirm.ts).
  const budget = await spendMailBudget(ctx, deps.mailLimiters, email.data);
  if (!budget.allowed) return refuse(ctx, deps, person, 'email', 'Too many emails were sent. Try again later.', 429);
  await sendEmailChangeConfirmation(deps, { id: person.user.id, email: person.user.email, passwordHash: current.passwordHash }, email.data, ctx.ip);
  done(ctx, 'email');
};

export const requestVerification: AccountChange = async (ctx, deps, person) => {
  await readAccountForm(ctx, deps, person, 'verify', {});
  if (person.user.email_verified) return done(ctx, 'verify');
  const budget = await spendMailBudget(ctx, deps.mailLimiters, person.user.email);
  if (!budget.allowed) return refuse(ctx, deps, person, 'verify', 'Too many emails were sent. Try again later.', 429);
  const row = await deps.prisma.user.findUnique({ where: { id: person.user.id }, select: { passwordHash: true } });
  if (!row) return done(ctx, 'verify');
  await sendVerificationEmail(deps, { id: person.user.id, email: person.user.email, passwordHash: row.passwordHash }, { ip: ctx.ip });
  done(ctx, 'verify');
};

export const signOutSession: AccountChange = async (ctx, deps, person) => {
  const form = await readAccountForm(ctx, deps, person, 'signOut', { session: z.string().max(100) });
  const sessions = await listPersonSessions(deps.prisma, person.user.id);
  const target = sessions.find((s) => s.handle === form.session);
  // Someone else's session, or one already gone: nothing to end, and nothing said about it.
  if (target) await signOutSessions(deps, { accountId: person.user.id, sessions: [target.id], reason: 'account_page', ip: ctx.ip });
  done(ctx, 'signed-out');
};

export const signOutOtherSessions: AccountChange = async (ctx, deps, person) => {
  await readAccountForm(ctx, deps, person, 'signOutOthers', {});
  await signOutSessions(deps, { accountId: person.user.id, sessions: 'all', except: person.session.id, reason: 'account_page_others', ip: ctx.ip });
  done(ctx, 'signed-out-others');
};

export const revokeApp: AccountChange = async (ctx, deps, person) => {
  const form = await readAccountForm(ctx, deps, person, 'revoke', { client_id: z.string().min(1).max(200) });
  const revoked = await revokeUserGrants(deps.prisma, person.user.id, form.client_id);
  if (revoked > 0) {
    await deps.audit({ type: 'grant.revoked', outcome: 'success', subject: person.user.id, clientId: form.client_id, ip: ctx.ip, details: { grants: revoked, by: 'account_page' } });
  }
  done(ctx, 'revoked');
};
