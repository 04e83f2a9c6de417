// Following a verification or email-change link: a page that asks to confirm (opening the link
// changes nothing), then the change. A verification sets email_verified for the address the link
// was sent to, if it is still the account's; an email change makes the new address the account's
// (verified, since the link reached it), voids the account's other email links, and tells the
// old address.
import type { Context } from 'koa';
import { z } from 'zod';
import { checkAccountToken, useAccountToken, voidAccountTokens, type AccountTokenPurpose, type AccountTokenRefusal } from '../accounts/account-tokens.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { EMAIL_VERIFICATION_PATH } from '../http/endpoints.js';
import { interactionHref, interactionUidOf, interactionUidSchema } from '../pages/continuation.js';
import { browserBinding } from '../pages/page-csrf.js';
import { CSRF_PAGE, sendErrorPage, sendPage, type ErrorPage } from '../pages/pages.js';
import { readForm } from '../sign-in/form.js';
import type { EmailVerificationDeps } from './deps.js';

const CONFIRM_FORM = 'email-confirm';
const PURPOSES: readonly AccountTokenPurpose[] = ['verify_email', 'email_change'];

const confirmFormSchema = z.strictObject({
  csrf: z.string().max(200).optional(),
  token: z.string().max(200),
  interaction: interactionUidSchema.optional(),
});

function refusedPage(reason: AccountTokenRefusal): ErrorPage {
  return reason === 'expired'
    ? { status: 400, title: 'This link has expired', message: 'Confirmation links work for a limited time. Ask for a new one from your account page.', code: 'link_expired' }
    : {
        status: 400,
        title: 'This link cannot be used',
        message: 'It was already used, replaced by a newer one, or is not a confirmation link. Ask for a new one from your account page.',
        code: 'link_invalid',
      };
}

const IN_USE_PAGE: ErrorPage = {
  status: 409,
  title: 'That address is taken',
  message: 'Another account signs in with this email address now, so yours keeps its current one.',
  code: 'email_in_use',
};

export function showEmailConfirmation(deps: EmailVerificationDeps) {
  return async (ctx: Context) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const checked = await checkAccountToken(deps.prisma, PURPOSES, token);
    if (!checked.ok) return sendErrorPage(ctx, refusedPage(checked.reason));
    sendPage(ctx, 'confirm-email', {
      title: checked.row.purpose === 'email_change' ? 'Confirm your new email address' : 'Confirm your email address',
      email: checked.row.email,
      action: `${EMAIL_VERIFICATION_PATH}/confirm`,
      csrf: deps.csrf.token(CONFIRM_FORM, browserBinding(ctx, true)),
      token,
      interaction: interactionUidOf(ctx.query.interaction),
    });
  };
}

export function submitEmailConfirmation(deps: EmailVerificationDeps) {
  return async (ctx: Context) => {
    const form = await readForm(ctx, confirmFormSchema);
    if (!deps.csrf.verify(CONFIRM_FORM, browserBinding(ctx, false), form.csrf)) return sendErrorPage(ctx, CSRF_PAGE);
    const used = await useAccountToken(deps.prisma, PURPOSES, form.token);
    if (!used.ok) {
      await deps.audit({ type: 'email.verification_refused', outcome: 'failure', subject: used.userId, ip: ctx.ip, details: { reason: used.reason } });
      return sendErrorPage(ctx, refusedPage(used.reason));
    }
    const { userId, email, purpose } = used.row;
    if (purpose === 'verify_email') {
      // Only while the address is still the account's (checked again here, in the update).
      await deps.prisma.user.updateMany({ where: { id: userId, email }, data: { emailVerified: true } });
      await voidAccountTokens(deps.prisma, userId, ['verify_email']);
      await deps.audit({ type: 'email.verified', outcome: 'success', subject: userId, ip: ctx.ip });
    } else {
      const before = await deps.prisma.user.findUnique({ where: { id: userId }, select: { email: true } });
      if (!before) return sendErrorPage(ctx, refusedPage('stale'));
      try {
        await deps.prisma.user.update({ where: { id: userId }, data: { email, emailVerified: true } });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        await deps.audit({ type: 'email.verification_refused', outcome: 'failure', subject: userId, ip: ctx.ip, details: { reason: 'email_in_use' } });
        return sendErrorPage(ctx, IN_USE_PAGE);
      }
      await voidAccountTokens(deps.prisma, userId, ['verify_email', 'email_change']);
      void deps.mailer.send({
        to: before.email,
        subject: 'Your email address was changed',
        template: 'email-changed',
        data: { email, oldEmail: before.email },
        links: [],
        purpose: 'email_changed_notice',
        userId,
      });
      await deps.audit({ type: 'email_change.completed', outcome: 'success', subject: userId, ip: ctx.ip });
    }
    const back = interactionHref(form.interaction);
    sendPage(ctx, 'notice', {
      title: purpose === 'email_change' ? 'Your email address is changed' : 'Your email address is confirmed',
      success: true,
      message: purpose === 'email_change' ? `You now sign in with ${email}.` : back ? 'You can finish signing in now.' : 'Thank you. You can close this window.',
      link: back ? { href: back, text: 'Continue to sign in' } : undefined,
    });
  };
}
