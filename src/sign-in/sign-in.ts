// Sign-in wiring for oidc-provider: accounts (findAccount, claims), scopes, remembered consent,
// RP-initiated logout, and the audit events of logout. The pages themselves are Koa routes beside
// this file (routes.ts); the authorization-request policy that is not about people lives in
// src/oidc/provider.ts (response_type code only, PKCE S256 for every request, RS256 ID tokens).
import type Provider from 'oidc-provider';
import type { Middleware } from 'koa';
import type { Configuration, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import { claimsOf, SCOPE_CLAIMS } from '../accounts/claims.js';
import { getUserById } from '../accounts/users.js';
import { OIDC_SCOPES } from '../clients/metadata.js';
import { allowFormTarget } from '../pages/form-targets.js';
import { logoutPages } from './logout.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import { loadRememberedGrant } from './remembered-consent.js';

/**
 * The `sub` is the user's opaque id (Core §2: locally unique, never reassigned). A disabled
 * or deleted user is not found: oidc-provider then refuses their codes and refresh tokens
 * (invalid_grant) and their access tokens at userinfo (invalid_token). src/features.ts wraps it
 * in the refresh-token policy before it becomes the provider's findAccount.
 */
export function findSignInAccount({ prisma }: FeatureDependencies): FindAccount {
  return async (_ctx, sub) => {
    const user = await getUserById(prisma, sub);
    if (!user || user.disabled) return undefined;
    return { accountId: user.id, claims: async () => claimsOf(user) };
  };
}

export function signInConfiguration({ prisma }: FeatureDependencies): Partial<Configuration> {
  const pages = logoutPages(prisma);
  return {
    claims: {
      // oidc-provider's defaults for session-related claims are kept.
      acr: null,
      // RFC 8176 methods in ID tokens (src/mfa/acr.ts); not a default of oidc-provider.
      amr: null,
      sid: null,
      auth_time: null,
      iss: null,
      // acr and amr are released with openid, so every ID token says how the person signed in
      // (oidc-provider otherwise returns them only when the claims parameter asks).
      openid: [...SCOPE_CLAIMS.openid, 'acr', 'amr'],
      profile: [...SCOPE_CLAIMS.profile],
      email: [...SCOPE_CLAIMS.email],
    },
    // offline_access (Core §11) is what lets refresh-tokens.ts issue a refresh token.
    scopes: [...OIDC_SCOPES],
    loadExistingGrant: loadRememberedGrant(prisma),
    // Signing out revokes the session's tokens (those without offline_access) but keeps the
    // grant: it is the record of the person's consent (remembered-consent.ts). Elsewhere
    // oidc-provider's default: revoking an access token alone leaves its grant alone.
    revokeGrantPolicy(ctx) {
      if (ctx.oidc.route === 'end_session_confirm') return false;
      return !(ctx.oidc.route === 'revocation' && ctx.oidc.entities.AccessToken);
    },
    features: {
      userinfo: { enabled: true },
      // Logout redirects only to a post_logout_redirect_uri registered for the client
      // (RP-Initiated Logout §3: exact match), which oidc-provider checks.
      rpInitiatedLogout: { enabled: true, logoutSource: pages.logoutSource, postLogoutSuccessSource: pages.postLogoutSuccessSource },
    },
  };
}

/** Routes whose HTML answer can be a form_post response to the client (OAuth 2.0 Form Post Response Mode). */
const FORM_POST_ROUTES = new Set(['authorization', 'resume']);

/** The logout audit event. */
export function installSignIn(provider: Provider, { audit, logger }: FeatureDependencies): void {
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    const { session, params } = ctx.oidc;
    // Nobody was signed in: nothing ended.
    if (!session?.accountId) return;
    audit({
      type: 'logout',
      outcome: 'success',
      subject: session.accountId,
      clientId: ctx.oidc.client?.clientId ?? null,
      ip: ctx.ip,
      // logout=yes: the whole session ended; otherwise only this client's part of it.
      details: { everywhere: Boolean(params?.logout) },
    }).catch((err: unknown) => logger.error({ err }, 'audit failed'));
  });
}

/**
 * response_mode=form_post answers with a page whose form goes to the client's redirect_uri;
 * form-action must name it (src/http/security-headers.ts), once the client allows that URI.
 */
export function formPostTarget(): Middleware {
  return async (ctx, next) => {
    await next();
    const oidc = (ctx as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    const redirectUri = oidc?.params?.redirect_uri;
    if (!oidc?.route || !FORM_POST_ROUTES.has(oidc.route) || typeof redirectUri !== 'string' || !ctx.response.is('html')) return;
    if (oidc.client?.redirectUriAllowed(redirectUri)) allowFormTarget(ctx, redirectUri);
  };
}
