// Authorization code replay (RFC 6749 §4.1.2: a code used more than once is refused, and the
// server SHOULD revoke the tokens it issued). oidc-provider revokes the grant when it reads the
// code already consumed, but of concurrent exchanges those that read the code before the winner
// consumed it lose at the adapter's conditional consume (src/db/oidc-adapter.ts, CONSUME_LOST)
// and revoked nothing: whether the winner kept its tokens depended on timing. Here a lost
// consume of a code revokes the grant too, and every second use, either way, is audited as
// code.replay_detected. Only an exchange that passed every check (client, PKCE, redirect_uri)
// reaches the consume, so a stranger holding a code cannot revoke someone's grant with it; the
// requested resource is checked there too, before the code is consumed (requested-resource.ts).
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { CONSUME_LOST } from '../db/oidc-adapter.js';
import type { FeatureDependencies } from './feature.js';
import { assertRequestedResource } from './requested-resource.js';
import {
  currentContext,
  errorDetailOf,
  PROVIDER_ERROR_DETAILS,
  revokeGrantAsProvider,
  wrapAuthorizationCodeConsume,
  wrapAuthorizationCodeFind,
} from './provider-internals.js';

/** oidc-provider's, when the code it read was already consumed (it has revoked). */
const ALREADY_CONSUMED = PROVIDER_ERROR_DETAILS.authorizationCodeConsumed;
/** oidc-provider's, when the code's grant no longer exists. */
const GRANT_GONE = PROVIDER_ERROR_DETAILS.grantNotFound;

/** The second uses of a code, by how they lost. */
const SEEN: Record<string, string> = {
  [ALREADY_CONSUMED]: 'code already consumed',
  [CONSUME_LOST]: 'lost a concurrent exchange',
  [GRANT_GONE]: 'grant already revoked',
};

type CodeFacts = { grantId: string | null; accountId: string | null };

export function installCodeReplay(provider: Provider, { audit, logger }: FeatureDependencies): void {
  // The code each token request read, for the audit row: after a replay is refused its row is
  // gone (revoked with the grant), and oidc-provider names it as an entity only on success.
  const codes = new WeakMap<KoaContextWithOIDC, CodeFacts>();

  wrapAuthorizationCodeFind(provider, (find) => async (jti, options) => {
    const code = await find(jti, options);
    const ctx = currentContext();
    if (code && ctx) codes.set(ctx, { grantId: code.grantId ?? null, accountId: code.accountId ?? null });
    return code;
  });

  wrapAuthorizationCodeConsume(provider, (consume) => async (code) => {
    // Validate everything, then consume: a code refused afterwards for its resource would be
    // burned, and the corrected retry taken for replay.
    const ctx = currentContext();
    if (ctx) assertRequestedResource(ctx, code);
    try {
      await consume(code);
    } catch (error) {
      // Another request consumed the code (or a replay revoked it) between our read and now.
      if (error instanceof errors.InvalidGrant && errorDetailOf(error) === CONSUME_LOST && code.grantId) {
        await revokeGrantAsProvider(provider, code.grantId);
      }
      throw error;
    }
  });

  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => {
    if (ctx.oidc.params?.grant_type !== 'authorization_code') return;
    const detail = errorDetailOf(error);
    const code = codes.get(ctx);
    const seen = SEEN[detail];
    // A code whose grant is gone was found while a concurrent replay was revoking it. (One
    // that is gone itself reads as any unknown code; its grant was revoked with it.)
    if (!seen || (detail === GRANT_GONE && !code)) return;
    audit({
      type: 'code.replay_detected',
      outcome: 'failure',
      subject: code?.accountId ?? null,
      clientId: ctx.oidc.client?.clientId ?? null,
      ip: ctx.ip,
      details: {
        grantId: code?.grantId ?? null,
        action: 'grant revoked',
        seen,
      },
    }).catch((err: unknown) => logger.error({ err }, 'audit failed'));
  });
}
