// Refresh tokens (RFC 6749 §6, RFC 9700 §4.14): issued only for offline_access, rotated on
// every use, with an idle (sliding) lifetime and an absolute one counted from the original
// sign-in. Reuse of a rotated token is detected by oidc-provider, which destroys the token and
// revokes the whole grant; the adapter's conditional consume() makes concurrent use of one
// token yield exactly one success. Here: the policy, and the audit event for reuse.
import type Provider from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC, errors } from 'oidc-provider';
import type { FeatureDependencies } from './feature.js';

/** What oidc-provider's grant handler says when a consumed (rotated) token comes back. */
const REUSE_DETAIL = 'refresh token already used';

/**
 * Seconds the next refresh token may live: a full idle period, but never past the absolute
 * limit measured from `iiat`, the issue time of the first token of the chain (kept across
 * rotations by oidc-provider). At least 1 s: 0 would mean "no expiry" to the storage layer.
 */
export function refreshTokenLifetime(idleSeconds: number, absoluteSeconds: number, chainAgeSeconds: number): number {
  return Math.max(1, Math.min(idleSeconds, absoluteSeconds - chainAgeSeconds));
}

export function refreshTokenConfiguration({ config }: FeatureDependencies): Partial<Configuration> {
  return {
    // RFC 9700 §4.14.2: rotation for every client, confidential ones included.
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    ttl: {
      RefreshToken: (_ctx, token) =>
        refreshTokenLifetime(config.ttl.refreshTokenIdle, config.ttl.refreshTokenAbsolute, token.totalLifetime()),
    },
  };
}

export function installRefreshTokenAudit(provider: Provider, { audit }: FeatureDependencies): void {
  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => {
    if (ctx.oidc.params?.grant_type !== 'refresh_token' || error.error_detail !== REUSE_DETAIL) return;
    const token = ctx.oidc.entities.RefreshToken;
    void audit({
      type: 'refresh.reuse_detected',
      outcome: 'failure',
      subject: token?.accountId ?? null,
      clientId: ctx.oidc.client?.clientId ?? null,
      ip: ctx.ip,
      details: { grantId: token?.grantId ?? null, action: 'grant revoked' },
    });
  });
}
