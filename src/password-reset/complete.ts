// Following the emailed link: a page that asks for the new password (opening the link changes
// nothing, so a mail scanner that fetches it spends nothing), then the reset itself. The token
// is used in the same step that checks it (src/accounts/account-tokens.ts); the new password
// follows the policy; the lockout is cleared; every other reset link of the account is voided;
// and (PASSWORD_RESET_REVOKES_SESSIONS) the person's sessions end and their refresh tokens are
// revoked. No session is made here: the person signs in again, second factor included.
import type { Context } from 'koa';
import { z } from 'zod';
import { checkAccountToken, useAccountToken, voidAccountTokens, type AccountTokenRefusal } from '../accounts/account-tokens.js';
import { passwordProblem } from '../accounts/passwords.js';
import { setPassword } from '../accounts/users.js';
import { PASSWORD_RESET_PATH } from '../http/endpoints.js';
import { signOutSessions } from '../oidc/sessions.js';
import { revokePersonTokens } from '../oidc/user-grants.js';
import { interactionHref, interactionUidOf, interactionUidSchema } from '../pages/continuation.js';
import { browserBinding } from '../pages/page-csrf.js';
import { CSRF_PAGE, sendErrorPage, sendPage, type ErrorPage } from '../pages/pages.js';
import { readForm } from '../sign-in/form.js';
import type { PasswordResetDeps } from './deps.js';

const RESET_FORM = 'password-reset';

const resetFormSchema = z.strictObject({
  csrf: z.string().max(200).optional(),
  token: z.string().max(200),
  password: z.string().max(1024).default(''),
  interaction: interactionUidSchema.optional(),
});

function refusedPage(reason: AccountTokenRefusal): ErrorPage {
  return reason === 'expired'
    ? { status: 400, title: 'This link has expired', message: 'Reset links work for a limited time. Ask for a new one from the sign-in page.', code: 'link_expired' }
    : {
        status: 400,
        title: 'This link cannot be used',
        message: 'It was already used, replaced by a newer one, or is not a password reset link. Ask for a new one from the sign-in page.',
        code: 'link_invalid',
      };
}

function showResetForm(ctx: Context, deps: PasswordResetDeps, view: { token: string; email: string; interaction?: string; error?: string; status?: number }): void {
  sendPage(
    ctx,
    'password-reset-form',
    {
      title: 'Choose a new password',
      action: `${PASSWORD_RESET_PATH}/confirm`,
      csrf: deps.csrf.token(RESET_FORM, browserBinding(ctx, true)),
      token: view.token,
      email: view.email,
      interaction: view.interaction,
      error: view.error,
    },
    { status: view.status ?? 200 },
  );
}

export function showPasswordResetForm(deps: PasswordResetDeps) {
  return async (ctx: Context) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const checked = await checkAccountToken(deps.prisma, ['password_reset'], token);
    if (!checked.ok) return sendErrorPage(ctx, refusedPage(checked.reason));
    showResetForm(ctx, deps, { token, email: checked.row.email, interaction: interactionUidOf(ctx.query.interaction) });
  };
}

export function submitPasswordReset(deps: PasswordResetDeps) {
  return async (ctx: Context) => {
    const form = await readForm(ctx, resetFormSchema);
    if (!deps.csrf.verify(RESET_FORM, browserBinding(ctx, false), form.csrf)) return sendErrorPage(ctx, CSRF_PAGE);
    const problem = passwordProblem(form.password);
    if (problem) {
      // The link is not spent on a password the policy refuses.
      const checked = await checkAccountToken(deps.prisma, ['password_reset'], form.token);
      if (!checked.ok) return sendErrorPage(ctx, refusedPage(checked.reason));
      return showResetForm(ctx, deps, { token: form.token, email: checked.row.email, interaction: form.interaction, error: `The password ${problem}.`, status: 400 });
    }
    const used = await useAccountToken(deps.prisma, ['password_reset'], form.token);
    if (!used.ok) {
      await deps.audit({ type: 'password_reset.refused', outcome: 'failure', subject: used.userId, ip: ctx.ip, details: { reason: used.reason } });
      return sendErrorPage(ctx, refusedPage(used.reason));
    }
    const { userId } = used.row;
    await setPassword(deps.prisma, userId, form.password);
    await voidAccountTokens(deps.prisma, userId, ['password_reset']);
    let sessionsEnded = 0;
    let refreshTokensRevoked = 0;
    if (deps.config.passwordReset.revokesSessions) {
      sessionsEnded = (await signOutSessions(deps, { accountId: userId, sessions: 'all', reason: 'password_reset', ip: ctx.ip })).length;
      // Whoever knew the old password may hold tokens: none of them outlives the reset, JWT
      // access tokens of offline grants included.
      refreshTokensRevoked = await revokePersonTokens(deps.prisma, userId);
    }
    await deps.audit({
      type: 'password_reset.completed',
      outcome: 'success',
      subject: userId,
      ip: ctx.ip,
      details: { sessions_ended: sessionsEnded, refresh_tokens_revoked: refreshTokensRevoked, lockout_cleared: true },
    });
    const back = interactionHref(form.interaction);
    sendPage(ctx, 'notice', {
      title: 'Your password is changed',
      success: true,
      message: back ? 'Sign in with your new password to continue.' : 'Sign in with your new password from the application you were using.',
      link: back ? { href: back, text: 'Continue to sign in' } : undefined,
    });
  };
}
