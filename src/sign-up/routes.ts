// Sign-up (issue 20.4), when SIGNUP is `open` or a list of email domains:
//
//   GET  /sign-up    the form (from "Create an account" on the login page)
//   POST /sign-up    creates the account, unverified, and emails a verification link
//
// The answer is the same whether or not the address already has an account (that account's
// owner gets a notice instead), so the form cannot be used to find out who has one. A new
// account cannot finish signing in to an application before its email is verified
// (src/accounts/self-sign-up.ts, checked at login). Attempts spend the sign-in limits of the
// client's address (LOGIN_IP_LIMIT) and the mail budgets.
import Router from '@koa/router';
import type { Context } from 'koa';
import { passwordProblem } from '../accounts/passwords.js';
import { recordSelfSignUp } from '../accounts/self-sign-up.js';
import { createUser, emailSchema, UserError } from '../accounts/users.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import type { EmailVerificationDeps } from '../email-verification/deps.js';
import { sendVerificationEmail } from '../email-verification/send.js';
import { SIGN_UP_PATH } from '../http/endpoints.js';
import { clientAddressKey, setRateLimitHeaders, type RateLimiter } from '../http/rate-limit.js';
import { spendMailBudget, type MailLimiters } from '../mail/mail-budget.js';
import { interactionHref, interactionUidOf, interactionUidSchema } from '../pages/continuation.js';
import { browserBinding } from '../pages/page-csrf.js';
import { CSRF_PAGE, sendErrorPage, sendPage } from '../pages/pages.js';
import { friendlyFormErrors, readForm } from '../sign-in/form.js';
import { z } from 'zod';

export type SignUpDeps = EmailVerificationDeps & { mailLimiters: MailLimiters; signUpLimiter: RateLimiter };

const SIGN_UP_FORM = 'sign-up';

const signUpFormSchema = z.strictObject({
  csrf: z.string().max(200).optional(),
  name: z.string().max(1000).default(''),
  email: z.string().max(1000).default(''),
  password: z.string().max(1024).default(''),
  interaction: interactionUidSchema.optional(),
});

const CLOSED_PAGE = { status: 404, title: 'Sign-up is closed', message: 'Accounts here are created by an administrator.', code: 'signup_closed' };

type View = { name: string; email: string; interaction?: string; error?: string; status?: number };

function showForm(ctx: Context, deps: SignUpDeps, view: View): void {
  sendPage(
    ctx,
    'sign-up',
    {
      title: 'Create an account',
      action: SIGN_UP_PATH,
      csrf: deps.csrf.token(SIGN_UP_FORM, browserBinding(ctx, true)),
      domains: deps.config.signUp.domains,
      name: view.name,
      email: view.email,
      interaction: view.interaction,
      error: view.error,
      backHref: interactionHref(view.interaction),
    },
    { status: view.status ?? 200 },
  );
}

function domainAllowed(deps: SignUpDeps, email: string): boolean {
  const { mode, domains } = deps.config.signUp;
  if (mode === 'open') return true;
  const domain = email.slice(email.lastIndexOf('@') + 1);
  return domains.includes(domain);
}

async function submit(ctx: Context, deps: SignUpDeps): Promise<void> {
  const form = await readForm(ctx, signUpFormSchema);
  if (!deps.csrf.verify(SIGN_UP_FORM, browserBinding(ctx, false), form.csrf)) return sendErrorPage(ctx, CSRF_PAGE);
  const view: View = { name: form.name.trim(), email: form.email.trim(), interaction: form.interaction, status: 400 };
  const name = view.name;
  if (!name || name.length > 200) return showForm(ctx, deps, { ...view, error: 'Enter your name (at most 200 characters).' });
  const email = emailSchema.safeParse(form.email);
  if (!email.success) return showForm(ctx, deps, { ...view, error: 'Enter a valid email address.' });
  if (!domainAllowed(deps, email.data)) {
    await deps.audit({ type: 'signup.refused', outcome: 'failure', ip: ctx.ip, details: { reason: 'domain_not_allowed' } });
    return showForm(ctx, deps, { ...view, error: `Sign-up is open to addresses at ${deps.config.signUp.domains.join(', ')} only.` });
  }
  const problem = passwordProblem(form.password);
  if (problem) return showForm(ctx, deps, { ...view, error: `The password ${problem}.` });

  const byIp = await deps.signUpLimiter.consume(clientAddressKey(ctx.ip));
  setRateLimitHeaders(ctx, byIp);
  const budget = byIp.allowed ? await spendMailBudget(ctx, deps.mailLimiters, email.data) : undefined;
  if (!byIp.allowed || (budget && !budget.allowed && budget.policy === 'mail-ip')) {
    await deps.audit({ type: 'signup.refused', outcome: 'failure', ip: ctx.ip, details: { reason: 'rate_limited' } });
    return showForm(ctx, deps, { ...view, error: 'Too many attempts from your network. Try again later.', status: 429 });
  }
  const mayMail = budget?.allowed === true;

  // createUser hashes the password before it finds the address taken, so both outcomes cost one
  // argon2 hash on the request's path; the messages are made after the answer, as for a reset.
  let created: { id: string; email: string } | undefined;
  try {
    created = await createUser(deps.prisma, { email: email.data, name, password: form.password });
  } catch (error) {
    if (!(error instanceof UserError && error.code === 'duplicate_email') && !isUniqueViolation(error)) throw error;
  }
  // Recorded before the answer: the new account must not finish a sign-in unverified.
  if (created) await recordSelfSignUp(deps.prisma, created.id);
  const ip = ctx.ip;
  const account = created;
  void (async () => {
    if (account) {
      await deps.audit({ type: 'signup.created', outcome: 'success', subject: account.id, ip });
      const row = await deps.prisma.user.findUnique({ where: { id: account.id }, select: { passwordHash: true } });
      if (row && mayMail) await sendVerificationEmail(deps, { id: account.id, email: account.email, passwordHash: row.passwordHash }, { interaction: form.interaction, ip });
    } else {
      // The address has an account: the same answer; its owner is told.
      await deps.audit({ type: 'signup.refused', outcome: 'failure', ip, details: { reason: 'email_taken' } });
      if (mayMail) {
        void deps.mailer.send({ to: email.data, subject: 'Someone tried to create an account with your address', template: 'sign-up-existing', data: { email: email.data }, links: [], purpose: 'sign_up_existing' });
      }
    }
  })().catch((err: unknown) => deps.logger.error({ err }, 'sign-up follow-up failed'));
  sendPage(ctx, 'notice', {
    title: 'Check your email',
    message: `We sent a message to ${email.data}. Follow its link to confirm your address, then sign in.`,
    link: form.interaction ? { href: interactionHref(form.interaction), text: 'Back to sign in' } : undefined,
  });
}

export function signUpRoutes(deps: SignUpDeps): Router {
  const router = new Router({ prefix: SIGN_UP_PATH });
  router.use(friendlyFormErrors);
  router.get('/', (ctx) => {
    if (deps.config.signUp.mode === 'off') return sendErrorPage(ctx, CLOSED_PAGE);
    showForm(ctx, deps, { name: '', email: '', interaction: interactionUidOf(ctx.query.interaction) });
  });
  router.post('/', async (ctx) => {
    if (deps.config.signUp.mode === 'off') return sendErrorPage(ctx, CLOSED_PAGE);
    await submit(ctx, deps);
  });
  return router;
}
