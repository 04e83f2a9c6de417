// The login prompt: email and password (OpenID Connect Core §3.1.2.3: the server authenticates
// the End-User). Every failure shows the same message and keeps the typed email; the reason is
// recorded only in the audit trail (no page tells which emails exist). Failed attempts are counted
// per account (lockout, src/accounts/authenticate.ts), per client IP address, and per client IP
// address and account (rate limits, so guessing passwords across accounts has a bound too).
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { z } from 'zod';
import { authenticate } from '../accounts/authenticate.js';
import { mustVerifyEmailFirst } from '../accounts/self-sign-up.js';
import { EMAIL_MAX_LENGTH, normalizeEmail } from '../accounts/users.js';
import { PASSWORD_RESET_PATH, SIGN_UP_PATH } from '../http/endpoints.js';
import { clientAddressKey, setRateLimitHeaders, type RateLimitResult } from '../http/rate-limit.js';
import { finishInteraction, type LoadedInteraction } from './interaction.js';
import { readForm } from './form.js';
import { CSRF_PAGE, sendErrorPage, sendPage } from '../pages/pages.js';
import type { InteractionDeps } from './deps.js';

const INVALID_CREDENTIALS = 'Invalid email or password.';

/** Generous bounds: the policy is enforced where passwords are set, not where they are typed. */
const loginFormSchema = z.strictObject({
  csrf: z.string().max(200).optional(),
  email: z.string().max(1000).default(''),
  password: z.string().max(1024).default(''),
});

type LoginView = { email: string; error?: string; status?: number };

async function clientName(deps: InteractionDeps, clientId: string): Promise<string> {
  const client = await deps.provider.Client.find(clientId);
  return client?.clientName ?? clientId;
}

/** A login_hint that looks like an email pre-fills the field (OpenID Connect Core §3.1.2.1). */
function hintedEmail(interaction: LoadedInteraction): string {
  const hint = interaction.params.login_hint?.trim() ?? '';
  return hint.length <= EMAIL_MAX_LENGTH && z.email().safeParse(hint).success ? hint : '';
}

async function showLogin(ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction, view: LoginView): Promise<void> {
  const { uid } = interaction;
  const extra = deps.extension?.loginPage?.(interaction);
  sendPage(
    ctx,
    'login',
    {
      ...extra?.data,
      title: 'Sign in',
      clientName: await clientName(deps, interaction.params.client_id),
      email: view.email,
      error: view.error,
      action: `/interaction/${uid}/login`,
      abortAction: `/interaction/${uid}/abort`,
      csrf: deps.csrf.token('login', uid),
      abortCsrf: deps.csrf.token('abort', uid),
      // Self-service links (issue 20), shown when the feature is on; they carry the interaction back.
      forgotPasswordHref: deps.config.passwordReset.enabled ? `${PASSWORD_RESET_PATH}?interaction=${encodeURIComponent(uid)}` : undefined,
      signUpHref: deps.config.signUp.mode !== 'off' ? `${SIGN_UP_PATH}?interaction=${encodeURIComponent(uid)}` : undefined,
      upstreams: (await deps.loginExtension?.alternatives(interaction)) ?? [],
    },
    { status: view.status ?? 200, formTargets: [interaction.params.redirect_uri], scripts: extra?.scripts ?? false },
  );
}

export async function showLoginPrompt(ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction): Promise<void> {
  if (await deps.loginExtension?.intercept(ctx, interaction)) return;
  await showLogin(ctx, deps, interaction, { email: hintedEmail(interaction) });
}

export async function submitLogin(ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction): Promise<void> {
  const form = await readForm(ctx, loginFormSchema);
  if (!deps.csrf.verify('login', interaction.uid, form.csrf)) return sendErrorPage(ctx, CSRF_PAGE);

  const email = form.email.trim();
  if (!email || !form.password) {
    return showLogin(ctx, deps, interaction, { email, error: 'Enter your email and password.', status: 400 });
  }

  // Every attempt spends a point of the address's budget and of the address-and-account one;
  // a successful attempt gets both back, so only failures count. Refused attempts never reach
  // the password check (and its cost). The email is hashed into the key: no addresses in Redis.
  const ipKey = clientAddressKey(ctx.ip);
  const accountKey = `${ipKey}|${createHash('sha256').update(normalizeEmail(email)).digest('base64url')}`;
  const byIp = await deps.loginLimiter.consume(ipKey);
  setRateLimitHeaders(ctx, byIp);
  const byAccount = byIp.allowed ? await deps.loginAccountLimiter.consume(accountKey) : undefined;
  if (byAccount) setRateLimitHeaders(ctx, byAccount);
  const refused: [string, RateLimitResult] | undefined = !byIp.allowed
    ? ['login-ip', byIp]
    : byAccount && !byAccount.allowed
      ? ['login-ip-account', byAccount]
      : undefined;
  if (refused) {
    const [policy, limit] = refused;
    await deps.audit({
      type: 'login.failure',
      outcome: 'failure',
      clientId: interaction.params.client_id,
      ip: ctx.ip,
      details: { reason: 'rate_limited', policy },
    });
    const minutes = Math.ceil(limit.resetSeconds / 60);
    const from = policy === 'login-ip' ? 'from your network' : 'for this account from your network';
    return showLogin(ctx, deps, interaction, {
      email,
      error: `Too many failed sign-in attempts ${from}. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
      status: 429,
    });
  }

  let stepFollows = false;
  const { extension } = deps;
  const result = await authenticate(deps.prisma, deps.hasher, deps.config.lockout, { email, password: form.password }, new Date(), {
    completesSignIn: extension
      ? async (userId) => {
          stepFollows = await extension.stepFollowsPassword(interaction, userId);
          return !stepFollows;
        }
      : undefined,
  });
  if (!result.ok) {
    await deps.audit({
      type: 'login.failure',
      outcome: 'failure',
      subject: result.userId,
      clientId: interaction.params.client_id,
      ip: ctx.ip,
      details: { reason: result.reason },
    });
    if (result.lockedNow) {
      await deps.audit({
        type: 'account.locked',
        outcome: 'success',
        subject: result.userId,
        clientId: interaction.params.client_id,
        ip: ctx.ip,
        details: {
          failed_attempts: deps.config.lockout.threshold,
          window_seconds: deps.config.lockout.windowSeconds,
          locked_until: result.lockedUntil?.toISOString() ?? null,
        },
      });
    }
    return showLogin(ctx, deps, interaction, { email, error: INVALID_CREDENTIALS, status: 400 });
  }

  await Promise.all([deps.loginLimiter.refund(ipKey), deps.loginAccountLimiter.refund(accountKey)]);
  if (await mustVerifyEmailFirst(deps.prisma, result.userId)) {
    // A self-created account proves its address before it can sign in to an application (issue 20.4).
    await deps.audit({ type: 'login.failure', outcome: 'failure', subject: result.userId, clientId: interaction.params.client_id, ip: ctx.ip, details: { reason: 'email_unverified' } });
    return showLogin(ctx, deps, interaction, { email, error: 'Confirm your email address first: follow the link we sent you, then sign in.', status: 403 });
  }
  await deps.audit({
    type: 'login.success',
    outcome: 'success',
    subject: result.userId,
    clientId: interaction.params.client_id,
    ip: ctx.ip,
    // second_factor: the sign-in goes on to a second factor (src/mfa), which audits its own outcome.
    details: { method: 'password', password_rehashed: result.passwordRehashed, second_factor: stepFollows },
  });
  if (extension) return extension.afterPassword(ctx, interaction, result.userId, stepFollows);
  // RFC 8176 §2: "pwd" names password authentication.
  await finishInteraction(deps.provider, ctx, { login: { accountId: result.userId, amr: ['pwd'], remember: true } });
}
