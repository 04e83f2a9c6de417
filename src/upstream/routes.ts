// Signing in through an upstream identity provider, as routes beside the interaction pages:
//
//   GET  /interaction/:uid/upstream/:idp     "Continue with …" (or an `idp` hint): to the upstream
//   GET  /interaction/upstream/callback      the upstream's answer (the redirect_uri registered there)
//   GET  /interaction/:uid/upstream-finish   the outcome, in the browser holding the interaction
//   POST /interaction/:uid/upstream-link     the password that proves an existing account before linking
//
// The callback URL is one fixed address (an upstream registers exact redirect URIs), so it cannot
// carry the interaction cookie (scoped to /interaction/<uid>). It checks the response against the
// flow its `state` names and a cookie of the browser that started it (flows.ts), records what it
// decided, and sends the browser on to /interaction/<uid>/upstream-finish, where the interaction
// cookie proves the browser again before oidc-provider is told who signed in.
import { randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { issuerIsHttps } from '../config.js';
import type { PasswordHasher } from '../accounts/passwords.js';
import { clientAddressKey, type RateLimiter } from '../http/rate-limit.js';
import { INTERACTION_PATH } from '../http/endpoints.js';
import type { KeyEncryptionKey } from '../keys/encryption.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import { EXPIRED_PAGE, FORM_UNREADABLE_PAGE, sendErrorPage, sendPage } from '../pages/pages.js';
import type { Csrf } from '../sign-in/csrf.js';
import type { LoginExtension } from '../sign-in/deps.js';
import { FormError, readForm } from '../sign-in/form.js';
import { finishInteraction, loadInteraction, type LoadedInteraction } from '../sign-in/interaction.js';
import { claimFlow, peekOutcome, recordFlow, recordOutcome, sha256, takeOutcome, type FlowOutcome } from './flows.js';
import { linkIdentity } from './identities.js';
import { proveExistingAccount, resolveAccount } from './linking.js';
import { classifyFailure, completeAuthorization, startAuthorization, upstreamConfiguration, type SigningKeySource } from './oauth-client.js';
import { BAD_STATE_PAGE, failurePage, NOT_AVAILABLE_PAGE } from './pages.js';
import { listUpstreams, loadEnabledUpstream } from './registry.js';
import { acrOf } from '../mfa/acr.js';

const CALLBACK_PATH = `${INTERACTION_PATH}/upstream/callback`;

export type UpstreamDeps = FeatureDependencies & {
  provider: () => Provider;
  kek: KeyEncryptionKey;
  csrf: Csrf;
  hasher: PasswordHasher;
  /** Gatehouse's current signing key (private_key_jwt to upstreams); follows key rotation. */
  signingKey: SigningKeySource;
  /** Failed sign-ins per client IP address (the login page's budget: a link password is one). */
  loginLimiter: RateLimiter;
};

/** RFC 8176 §2: "fed", federated authentication. */
const FEDERATED = 'fed';

const idpHintSchema = z.string().max(40);
const callbackQuerySchema = z.looseObject({ state: z.string().min(1).max(500) });
const linkFormSchema = z.strictObject({ csrf: z.string().max(200).optional(), password: z.string().max(1024).default('') });

const browserCookieName = (state: string) => `gh_upstream_${sha256(state).slice(0, 16)}`;

function callbackUrl(deps: UpstreamDeps): string {
  return new URL(CALLBACK_PATH, deps.config.issuer).toString();
}

function interactionHref(uid: string, suffix = ''): string {
  return `${INTERACTION_PATH}/${uid}${suffix}`;
}

function uidOf(ctx: Context): string {
  return String((ctx.params as { uid?: string }).uid ?? '');
}

/** The login prompt's additions: a link per enabled upstream, and the `idp` hint. */
export function upstreamLoginExtension(deps: UpstreamDeps): LoginExtension {
  return {
    async alternatives(interaction) {
      const upstreams = await listUpstreams(deps.prisma, { enabledOnly: true });
      return upstreams.map((u) => ({ label: u.display_name, href: interactionHref(interaction.uid, `/upstream/${u.id}`) }));
    },
    async intercept(ctx, interaction) {
      // An authorization request may name an upstream (`idp`, kept by extraParams): straight
      // there. An unknown or disabled one is ignored, and the login page is shown as usual.
      const hint = idpHintSchema.safeParse(interaction.params.idp);
      if (!hint.success) return false;
      const upstream = await loadEnabledUpstream(deps.prisma, deps.kek, hint.data);
      if (!upstream) return false;
      await redirectToUpstream(ctx, deps, interaction, hint.data);
      return true;
    },
  };
}

async function redirectToUpstream(ctx: Context, deps: UpstreamDeps, interaction: LoadedInteraction, upstreamId: string): Promise<void> {
  const upstream = await loadEnabledUpstream(deps.prisma, deps.kek, upstreamId);
  if (!upstream) return sendErrorPage(ctx, NOT_AVAILABLE_PAGE);
  let start;
  try {
    const config = await upstreamConfiguration(upstream, deps.config.upstream.timeoutSeconds, deps.signingKey);
    start = await startAuthorization(config, upstream, callbackUrl(deps));
  } catch (error) {
    const failure = classifyFailure(error);
    await deps.audit({
      type: 'upstream.login.failure',
      outcome: 'failure',
      clientId: interaction.params.client_id,
      ip: ctx.ip,
      details: { upstream: upstream.id, reason: failure.reason, check: failure.check, stage: 'discovery' },
    });
    return sendFailure(ctx, interaction.uid, { type: 'failed', upstreamId: upstream.id, reason: failure.reason, displayName: upstream.display_name });
  }
  const browserSecret = randomBytes(32).toString('base64url');
  await recordFlow(deps.prisma, deps.kek, {
    state: start.state,
    browserSecret,
    upstreamId: upstream.id,
    interactionUid: interaction.uid,
    nonce: start.nonce,
    codeVerifier: start.codeVerifier,
    ttlSeconds: deps.config.upstream.signInTtlSeconds,
  });
  ctx.cookies.set(browserCookieName(start.state), browserSecret, {
    path: CALLBACK_PATH,
    httpOnly: true,
    sameSite: 'lax',
    secure: issuerIsHttps(deps.config),
    signed: true,
    maxAge: deps.config.upstream.signInTtlSeconds * 1000,
    overwrite: true,
  });
  ctx.status = 303;
  ctx.redirect(start.url.toString());
}

function sendFailure(ctx: Context, uid: string, outcome: Extract<FlowOutcome, { type: 'failed' }>): void {
  const page = failurePage(outcome.reason, outcome.displayName);
  sendPage(ctx, 'upstream-error', { title: page.title, message: page.message, code: page.code, backHref: interactionHref(uid) }, { status: page.status });
}

/** Loads the interaction of the URL (and the cookie) at its login prompt, or answers with a page. */
async function loginInteraction(ctx: Context, deps: UpstreamDeps): Promise<LoadedInteraction | undefined> {
  const found = await loadInteraction(deps.provider(), ctx, uidOf(ctx));
  if (!found.ok || found.interaction.prompt.name !== 'login') {
    sendErrorPage(ctx, EXPIRED_PAGE);
    return undefined;
  }
  return found.interaction;
}

async function start(ctx: Context, deps: UpstreamDeps): Promise<void> {
  const interaction = await loginInteraction(ctx, deps);
  if (!interaction) return;
  await redirectToUpstream(ctx, deps, interaction, String((ctx.params as { idp?: string }).idp ?? ''));
}

async function callback(ctx: Context, deps: UpstreamDeps): Promise<void> {
  const query = callbackQuerySchema.safeParse(ctx.query);
  const refuse = async (reason: string, upstreamId?: string) => {
    await deps.audit({ type: 'upstream.login.failure', outcome: 'failure', ip: ctx.ip, details: { upstream: upstreamId ?? null, reason: 'bad_state', check: reason } });
    sendErrorPage(ctx, BAD_STATE_PAGE);
  };
  if (!query.success) return refuse('state_missing');
  const { state } = query.data;
  const cookieName = browserCookieName(state);
  const claimed = await claimFlow(deps.prisma, deps.kek, state, ctx.cookies.get(cookieName, { signed: true }));
  if (!claimed.ok) return refuse(claimed.reason, claimed.upstreamId);
  ctx.cookies.set(cookieName, null, { path: CALLBACK_PATH, httpOnly: true, sameSite: 'lax', secure: issuerIsHttps(deps.config) });
  const { flow } = claimed;
  const finish = () => {
    ctx.status = 303;
    ctx.redirect(interactionHref(flow.interactionUid, '/upstream-finish'));
  };
  const upstream = await loadEnabledUpstream(deps.prisma, deps.kek, flow.upstreamId);
  if (!upstream) {
    await recordOutcome(deps.prisma, flow.id, { type: 'failed', upstreamId: flow.upstreamId, reason: 'disabled', displayName: flow.upstreamId });
    return finish();
  }
  const clientId = await interactionClientId(deps, flow.interactionUid);
  let identity;
  try {
    const config = await upstreamConfiguration(upstream, deps.config.upstream.timeoutSeconds, deps.signingKey);
    // The response is read as it arrived, at the address the upstream was given (ISSUER-based).
    const received = new URL(callbackUrl(deps));
    received.search = ctx.querystring;
    identity = await completeAuthorization(config, upstream, received, { state, nonce: flow.nonce, codeVerifier: flow.codeVerifier });
  } catch (error) {
    const failure = classifyFailure(error);
    deps.logger.info({ upstream: upstream.id, reason: failure.reason, check: failure.check }, 'upstream sign-in failed');
    await deps.audit({
      type: 'upstream.login.failure',
      outcome: 'failure',
      clientId,
      ip: ctx.ip,
      details: { upstream: upstream.id, reason: failure.reason, check: failure.check },
    });
    await recordOutcome(deps.prisma, flow.id, { type: 'failed', upstreamId: upstream.id, reason: failure.reason, displayName: upstream.display_name });
    return finish();
  }
  const outcome = await resolveAccount(deps, upstream, identity, { ip: ctx.ip, clientId: clientId ?? '' });
  if (outcome.type === 'failed') {
    await deps.audit({
      type: 'upstream.login.failure',
      outcome: 'failure',
      clientId,
      ip: ctx.ip,
      details: { upstream: upstream.id, reason: outcome.reason, check: 'account' },
    });
  }
  await recordOutcome(deps.prisma, flow.id, outcome);
  finish();
}

/** The client of the interaction a flow resumes, for audit rows (null when it is gone). */
async function interactionClientId(deps: UpstreamDeps, uid: string): Promise<string | null> {
  const interaction = await deps.provider().Interaction.find(uid);
  const clientId = (interaction?.params as { client_id?: unknown } | undefined)?.client_id;
  return typeof clientId === 'string' ? clientId : null;
}

async function signedIn(ctx: Context, deps: UpstreamDeps, interaction: LoadedInteraction, userId: string, upstreamId: string, amr: string[]): Promise<void> {
  await deps.audit({
    type: 'upstream.login.success',
    outcome: 'success',
    subject: userId,
    clientId: interaction.params.client_id,
    ip: ctx.ip,
    details: { upstream: upstreamId },
  });
  // The upstream's id rides along in the login result, for whatever needs to know how the person
  // signed in (claims, the acr/amr policy).
  // acr as for every other sign-in (src/mfa/acr.ts): an upstream sign-in alone is one factor here;
  // a person with a second factor, or a client requiring one, is stepped up by the login prompt check.
  await finishInteraction(deps.provider(), ctx, { login: { accountId: userId, amr, acr: acrOf(amr), remember: true, upstream: upstreamId } });
}

async function finishRoute(ctx: Context, deps: UpstreamDeps): Promise<void> {
  const interaction = await loginInteraction(ctx, deps);
  if (!interaction) return;
  const waiting = await peekOutcome(deps.prisma, interaction.uid);
  if (!waiting) return sendErrorPage(ctx, EXPIRED_PAGE);
  const { outcome } = waiting;
  if (outcome.type === 'confirm_link') return showLinkPage(ctx, deps, interaction, outcome);
  if (!(await takeOutcome(deps.prisma, waiting.id))) return sendErrorPage(ctx, EXPIRED_PAGE);
  if (outcome.type === 'failed') return sendFailure(ctx, interaction.uid, outcome);
  await signedIn(ctx, deps, interaction, outcome.userId, outcome.upstreamId, [FEDERATED]);
}

type ConfirmLink = Extract<FlowOutcome, { type: 'confirm_link' }>;

async function showLinkPage(ctx: Context, deps: UpstreamDeps, interaction: LoadedInteraction, outcome: ConfirmLink, error?: string, status = 200): Promise<void> {
  const upstream = await loadEnabledUpstream(deps.prisma, deps.kek, outcome.upstreamId);
  sendPage(
    ctx,
    'upstream-link',
    {
      title: 'Link your account',
      upstreamName: upstream?.display_name ?? outcome.upstreamId,
      email: outcome.email,
      error,
      action: interactionHref(interaction.uid, '/upstream-link'),
      csrf: deps.csrf.token('upstream-link', interaction.uid),
      backHref: interactionHref(interaction.uid),
    },
    { status, formTargets: [interaction.params.redirect_uri] },
  );
}

async function submitLink(ctx: Context, deps: UpstreamDeps): Promise<void> {
  const interaction = await loginInteraction(ctx, deps);
  if (!interaction) return;
  const form = await readForm(ctx, linkFormSchema);
  if (!deps.csrf.verify('upstream-link', interaction.uid, form.csrf)) return sendErrorPage(ctx, { ...FORM_UNREADABLE_PAGE, status: 403, code: 'csrf_check_failed' });
  const waiting = await peekOutcome(deps.prisma, interaction.uid);
  if (!waiting || waiting.outcome.type !== 'confirm_link') return sendErrorPage(ctx, EXPIRED_PAGE);
  const outcome = waiting.outcome;
  if (!form.password) return showLinkPage(ctx, deps, interaction, outcome, 'Enter the password of this account.', 400);

  const ipKey = clientAddressKey(ctx.ip);
  const byIp = await deps.loginLimiter.consume(ipKey);
  if (!byIp.allowed) return showLinkPage(ctx, deps, interaction, outcome, 'Too many failed attempts from your network. Try again later.', 429);
  const proof = await proveExistingAccount({ ...deps, lockout: deps.config.lockout }, { userId: outcome.userId, email: outcome.email }, form.password);
  if (!proof.ok) {
    await deps.audit({
      type: 'upstream.login.failure',
      outcome: 'failure',
      subject: outcome.userId,
      clientId: interaction.params.client_id,
      ip: ctx.ip,
      details: { upstream: outcome.upstreamId, reason: 'link_not_proven', check: proof.reason },
    });
    return showLinkPage(ctx, deps, interaction, outcome, 'That password is not right.', 400);
  }
  await deps.loginLimiter.refund(ipKey);
  if (!(await takeOutcome(deps.prisma, waiting.id))) return sendErrorPage(ctx, EXPIRED_PAGE);
  const link = await linkIdentity(deps.prisma, outcome.userId, outcome.upstreamId, outcome.subject, outcome.upstreamEmail);
  if (!link.linked) {
    return sendFailure(ctx, interaction.uid, { type: 'failed', upstreamId: outcome.upstreamId, reason: 'identity_linked_elsewhere', displayName: outcome.upstreamId });
  }
  await deps.audit({
    type: 'identity.linked',
    outcome: 'success',
    subject: outcome.userId,
    clientId: interaction.params.client_id,
    ip: ctx.ip,
    details: { upstream: outcome.upstreamId, via: 'password' },
  });
  // RFC 8176 §2: federated, and the password proved the account in this same sign-in.
  await signedIn(ctx, deps, interaction, outcome.userId, outcome.upstreamId, [FEDERATED, 'pwd']);
}

function guarded(deps: UpstreamDeps, handler: (ctx: Context, deps: UpstreamDeps) => Promise<void>) {
  return async (ctx: Context) => {
    try {
      await handler(ctx, deps);
    } catch (error) {
      if (error instanceof FormError) return sendErrorPage(ctx, { ...FORM_UNREADABLE_PAGE, status: error.status });
      throw error;
    }
  };
}

export function upstreamRoutes(deps: UpstreamDeps): Router {
  const router = new Router({ prefix: INTERACTION_PATH });
  // The fixed callback first: its path would otherwise read as an interaction uid.
  router.get('/upstream/callback', guarded(deps, callback));
  router.get('/:uid/upstream/:idp', guarded(deps, start));
  router.get('/:uid/upstream-finish', guarded(deps, finishRoute));
  router.post('/:uid/upstream-link', guarded(deps, submitLink));
  return router;
}
