// Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): issued only for offline_access, rotated on
// every use, with an idle (sliding) lifetime and an absolute one counted from the original
// sign-in. Reuse of a rotated token is detected by oidc-provider, which destroys the token and
// revokes the whole grant; the adapter's conditional consume() makes concurrent use of one
// token yield exactly one success. Here: the policy, and the audit event for reuse.
//
// Concurrency and the reuse grace window. oidc-provider reads the token, checks `consumed`, then
// consumes it. Of N requests racing with one token:
//   - those that read it before the winner consumed it lose at the adapter's conditional
//     update (src/db/oidc-adapter.ts, CONSUME_LOST): invalid_grant, nothing revoked;
//   - those that read it after see it consumed, which oidc-provider treats as replay and
//     answers by revoking the grant, the winner's brand-new token included.
// Strict RFC 9700 §4.14.2 behaviour would thus let a client's own parallel requests (two tabs,
// a retried request) sign it out, at random. So a consumed token presented again within
// REFRESH_TOKEN_REUSE_GRACE seconds of its rotation is refused with invalid_grant WITHOUT
// revoking; after the window, reuse revokes the grant as the RFC says. The cost: an attacker
// who rotates a stolen token first, followed by the legitimate client within the window, is
// not caught by revocation; the refusal is still audited (refresh.reuse_detected, "grant kept")
// and the attacker's chain still ends at the absolute lifetime. 0 restores the strict rule.
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Configuration, FindAccount, KoaContextWithOIDC, RefreshToken } from 'oidc-provider';
import { CONSUME_LOST } from '../db/oidc-adapter.js';
import { assertRequestedResource } from './requested-resource.js';
import type { FeatureDependencies } from './feature.js';
import { errorDetailOf, PROVIDER_ERROR_DETAILS } from './provider-internals.js';

/** oidc-provider's, when a rotated token comes back: it has revoked the grant. */
const REUSE_REVOKED = PROVIDER_ERROR_DETAILS.refreshTokenReused;
/** Ours, when it comes back within the grace window: refused, grant kept. */
const REUSE_WITHIN_GRACE = 'refresh token already used (second use within the reuse grace window)';
const PAST_ABSOLUTE_LIFETIME = 'refresh token is past its absolute lifetime';
/** oidc-provider's, when findAccount finds no one: the person is disabled or deleted. */
const ACCOUNT_REFUSED = PROVIDER_ERROR_DETAILS.refreshTokenAccountNotFound;

/** What each kind of reuse did, for the audit trail. */
const REUSE_ACTIONS: Record<string, string> = {
  [REUSE_REVOKED]: 'grant revoked',
  [REUSE_WITHIN_GRACE]: 'refused; grant kept (reused within the grace window)',
  [CONSUME_LOST]: 'refused; grant kept (lost a concurrent rotation)',
};

type RefreshPolicy = { idleSeconds: number; absoluteSeconds: number; reuseGraceSeconds: number };

const epochSeconds = (): number => Math.floor(Date.now() / 1000);

/**
 * When the chain of rotated tokens began: the person's sign-in (`authTime`, carried across
 * rotations), or where that is absent the issue time of the chain's first token (`iiat`).
 */
function chainStart(token: Pick<RefreshToken, 'authTime' | 'iiat' | 'iat'>): number {
  const candidates = [token.authTime, token.iiat, token.iat].filter((t): t is number => typeof t === 'number');
  return candidates.length ? Math.min(...candidates) : epochSeconds();
}

/**
 * Seconds the next refresh token may live: a full idle period, but never past the absolute
 * limit measured from the chain's start. At least 1 s: 0 would mean "no expiry" to the
 * storage layer (a token issued that late is refused on use by refreshRefusal anyway).
 */
function refreshTokenLifetime(idleSeconds: number, absoluteSeconds: number, chainAgeSeconds: number): number {
  return Math.max(1, Math.min(idleSeconds, absoluteSeconds - chainAgeSeconds));
}

/**
 * Why a presented refresh token is refused before oidc-provider's own reuse check, or null.
 * The absolute limit is checked here as well as baked into each token's expiry, so lowering
 * REFRESH_TOKEN_ABSOLUTE_TTL also ends chains whose tokens were issued under the old value.
 */
function refreshRefusal(
  token: Pick<RefreshToken, 'authTime' | 'iiat' | 'iat' | 'consumed'>,
  policy: RefreshPolicy,
  now = epochSeconds(),
): string | null {
  if (now - chainStart(token) >= policy.absoluteSeconds) return PAST_ABSOLUTE_LIFETIME;
  // `consumed` is whole epoch seconds (the adapter's consumedAt), so the window is at least
  // grace - 1 and at most grace seconds long.
  const consumedAt = token.consumed;
  if (typeof consumedAt === 'number' && now - consumedAt < policy.reuseGraceSeconds) return REUSE_WITHIN_GRACE;
  return null;
}

function refreshPolicyOf(config: FeatureDependencies['config']): RefreshPolicy {
  return {
    idleSeconds: config.ttl.refreshTokenIdle,
    absoluteSeconds: config.ttl.refreshTokenAbsolute,
    reuseGraceSeconds: config.ttl.refreshTokenReuseGrace,
  };
}

/**
 * `findAccount` (sign-in's) wrapped in the refresh policy, so that disabled or deleted users
 * stay refused there (invalid_grant). oidc-provider calls findAccount with the presented refresh
 * token after its own checks (client binding, expiry, grant, scope) and right before its reuse
 * check and the rotation, on the same token object that check reads; refusing here is therefore
 * decided on exactly what it would see, and leaves the token unconsumed.
 */
export function withRefreshPolicy({ config }: FeatureDependencies, findAccount: FindAccount): FindAccount {
  const policy = refreshPolicyOf(config);
  return async (ctx, sub, token) => {
    if (ctx.oidc.route === 'token' && token?.kind === 'RefreshToken') {
      const refusal = refreshRefusal(token, policy);
      if (refusal) throw new errors.InvalidGrant(refusal);
      // Before rotation, which would burn the token of a request refused later for its resource.
      // A rotated token presented again goes on to the reuse check whatever it names.
      if (!token.consumed) assertRequestedResource(ctx, token);
    }
    return findAccount(ctx, sub, token);
  };
}

/** Rotation, issuing and lifetimes; the checks on use are withRefreshPolicy above. */
export function refreshTokenConfiguration({ config }: FeatureDependencies): Partial<Configuration> {
  const policy = refreshPolicyOf(config);
  return {
    // RFC 9700 §4.14.2: rotation for every client, confidential ones included.
    rotateRefreshToken: true,
    // Only with offline_access (OpenID Connect Core §11), which oidc-provider keeps in a request
    // only with prompt=consent, and only for clients allowed the refresh_token grant.
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    ttl: {
      RefreshToken: (_ctx, token) =>
        refreshTokenLifetime(policy.idleSeconds, policy.absoluteSeconds, epochSeconds() - chainStart(token)),
    },
  };
}

export function installRefreshTokenAudit(provider: Provider, { audit, logger }: FeatureDependencies): void {
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => {
    if (ctx.oidc.params?.grant_type !== 'refresh_token') return;
    const detail = errorDetailOf(error);
    const action = REUSE_ACTIONS[detail];
    if (!action && detail !== ACCOUNT_REFUSED) return;
    const token = ctx.oidc.entities.RefreshToken;
    audit({
      // A disabled (or deleted) person's app still refreshing is worth a row too.
      type: action ? 'refresh.reuse_detected' : 'refresh.account_refused',
      outcome: 'failure',
      subject: token?.accountId ?? null,
      clientId: ctx.oidc.client?.clientId ?? null,
      ip: ctx.ip,
      details: action ? { grantId: token?.grantId ?? null, action } : { grantId: token?.grantId ?? null, reason: 'user disabled or deleted' },
    }).catch((err: unknown) => logger.error({ err }, 'audit failed'));
  });
}
