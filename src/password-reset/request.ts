// Asking for a reset link: the same page whatever the address (no page tells which addresses
// have accounts), and the same work on the request's path: the form is read, the budgets spent,
// the page sent. Looking the address up, making the token and queueing the message happen after
// the answer, so whether an account exists changes neither the answer nor its timing.
import type { Context } from 'koa';
import { z } from 'zod';
import { issueAccountToken } from '../accounts/account-tokens.js';
import { emailSchema } from '../accounts/users.js';
import { PASSWORD_RESET_PATH } from '../http/endpoints.js';
import { spendMailBudget } from '../mail/mail-budget.js';
import { interactionHref, interactionUidOf, interactionUidSchema } from '../pages/continuation.js';
import { browserBinding } from '../pages/page-csrf.js';
import { CSRF_PAGE, sendErrorPage, sendPage } from '../pages/pages.js';
import { readForm } from '../sign-in/form.js';
import type { PasswordResetDeps } from './deps.js';

const REQUEST_FORM = 'password-reset-request';

const requestFormSchema = z.strictObject({
  csrf: z.string().max(200).optional(),
  email: z.string().max(1000).default(''),
  interaction: interactionUidSchema.optional(),
});

function showRequestForm(ctx: Context, deps: PasswordResetDeps, view: { email: string; interaction?: string; error?: string; status?: number }): void {
  sendPage(
    ctx,
    'password-reset-request',
    {
      title: 'Reset your password',
      action: PASSWORD_RESET_PATH,
      csrf: deps.csrf.token(REQUEST_FORM, browserBinding(ctx, true)),
      email: view.email,
      interaction: view.interaction,
      error: view.error,
      backHref: interactionHref(view.interaction),
    },
    { status: view.status ?? 200 },
  );
}

export function showPasswordResetRequest(deps: PasswordResetDeps) {
  return (ctx: Context) => showRequestForm(ctx, deps, { email: '', interaction: interactionUidOf(ctx.query.interaction) });
}

export function submitPasswordResetRequest(deps: PasswordResetDeps) {
  return async (ctx: Context) => {
    const form = await readForm(ctx, requestFormSchema);
    if (!deps.csrf.verify(REQUEST_FORM, browserBinding(ctx, false), form.csrf)) return sendErrorPage(ctx, CSRF_PAGE);
    const email = emailSchema.safeParse(form.email);
    if (!email.success) return showRequestForm(ctx, deps, { email: form.email.trim(), interaction: form.interaction, error: 'Enter the email address of your account.', status: 400 });

    const budget = await spendMailBudget(ctx, deps.mailLimiters, email.data);
    if (!budget.allowed && budget.policy === 'mail-ip') {
      const minutes = Math.ceil(budget.limit.resetSeconds / 60);
      return showRequestForm(ctx, deps, {
        email: email.data,
        interaction: form.interaction,
        error: `Too many requests from your network. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
        status: 429,
      });
    }
    if (budget.allowed) {
      const ip = ctx.ip;
      void sendResetLink(deps, email.data, form.interaction, ip).catch((err: unknown) => deps.logger.error({ err }, 'password reset request failed'));
    } else {
      // The address's budget is spent: the same page, and no message (the answer must not differ).
      await deps.audit({ type: 'password_reset.requested', outcome: 'failure', ip: ctx.ip, details: { reason: 'rate_limited', policy: budget.policy } });
    }
    sendPage(ctx, 'notice', {
      title: 'Check your email',
      message: 'If an account uses that address, we have sent it a link to choose a new password. The link works once and expires soon.',
      link: form.interaction ? { href: interactionHref(form.interaction), text: 'Back to sign in' } : undefined,
    });
  };
}

/** After the answer: the token and the message, for an account that exists and may sign in. */
async function sendResetLink(deps: PasswordResetDeps, email: string, interaction: string | undefined, ip: string): Promise<void> {
  const user = await deps.prisma.user.findUnique({ where: { email }, select: { id: true, email: true, passwordHash: true, disabled: true } });
  if (!user || user.disabled) {
    await deps.audit({ type: 'password_reset.requested', outcome: 'failure', subject: user?.id ?? null, ip, details: { reason: user ? 'account_disabled' : 'unknown_email' } });
    return;
  }
  const { ttlSeconds } = deps.config.passwordReset;
  const token = await issueAccountToken(deps.prisma, { purpose: 'password_reset', userId: user.id, email: user.email, passwordHash: user.passwordHash, ttlSeconds });
  const link = new URL(`${PASSWORD_RESET_PATH}/confirm`, new URL(deps.config.issuer).origin);
  link.searchParams.set('token', token);
  if (interaction) link.searchParams.set('interaction', interaction);
  void deps.mailer.send({
    to: user.email,
    subject: 'Reset your Gatehouse password',
    template: 'password-reset',
    data: { email: user.email, link: link.href, minutes: Math.round(ttlSeconds / 60) },
    links: [link.href],
    purpose: 'password_reset',
    userId: user.id,
  });
  await deps.audit({ type: 'password_reset.requested', outcome: 'success', subject: user.id, ip, details: { ttl_seconds: ttlSeconds } });
}
