// Authorization code replay (RFC 6749 §4.1.2: a code used more than once is refused, and the
// server SHOULD revoke the tokens it issued). oidc-provider revokes the grant when it reads the
// code already consumed, but of concurrent exchanges those that read the code before the winner
// consumed it lose at the adapter's conditional consume (src/db/oidc-adapter.ts, CONSUME_LOST)
// and revoked nothing: whether the winner kept its tokens depended on timing. Here a lost
// consume of a code revokes the grant too, and every second use, either way, is audited as
// code.replay_detected. Only an exchange that passed every check (client, PKCE, redirect_uri)
// reaches the consume, so a stranger holding a code cannot revoke someone's grant with it; the
// requested resource is checked there too, before the code is consumed (requested-resource.ts).
import Provider, { errors } from 'oidc-provider';
import type { AuthorizationCode, KoaContextWithOIDC } from 'oidc-provider';
import { CONSUME_LOST } from '../db/oidc-adapter.js';
import type { FeatureDependencies } from './feature.js';
import { assertRequestedResource } from './requested-resource.js';

/** oidc-provider's error_detail when the code it read was already consumed (it has revoked). */
const ALREADY_CONSUMED = 'authorization code already consumed';
/** oidc-provider's error_detail when the code's grant no longer exists. */
const GRANT_GONE = 'grant not found';

/** The second uses of a code, by how they lost. */
const SEEN: Record<string, string> = {
  [ALREADY_CONSUMED]: 'code already consumed',
  [CONSUME_LOST]: 'lost a concurrent exchange',
  [GRANT_GONE]: 'grant already revoked',
};

type CodeFacts = { grantId: string | null; accountId: string | null };

/** The grant revoked as oidc-provider's replay handling revokes it (lib/helpers/revoke.js). */
async function revokeGrant(provider: Provider, grantId: string): Promise<void> {
  await Promise.all([
    provider.AccessToken.revokeByGrantId(grantId),
    provider.RefreshToken.revokeByGrantId(grantId),
    provider.AuthorizationCode.revokeByGrantId(grantId),
    provider.Grant.adapter.destroy(grantId),
  ]);
}

export function installCodeReplay(provider: Provider, { audit, logger }: FeatureDependencies): void {
  // The code each token request read, for the audit row: after a replay is refused its row is
  // gone (revoked with the grant), and oidc-provider names it as an entity only on success.
  const codes = new WeakMap<KoaContextWithOIDC, CodeFacts>();
  const AuthorizationCodeModel = provider.AuthorizationCode;

  type Find = (jti: string, options?: { ignoreExpiration?: boolean }) => Promise<AuthorizationCode | undefined>;
  const find = AuthorizationCodeModel.find.bind(AuthorizationCodeModel) as Find;
  (AuthorizationCodeModel as unknown as { find: Find }).find = async (jti, options) => {
    const code = await find(jti, options);
    const ctx = Provider.ctx;
    if (code && ctx) codes.set(ctx, { grantId: code.grantId ?? null, accountId: code.accountId ?? null });
    return code;
  };

  // eslint-disable-next-line @typescript-eslint/unbound-method -- wrapped, and called below with the code as `this`
  const consume = AuthorizationCodeModel.prototype.consume;
  AuthorizationCodeModel.prototype.consume = async function consumeOrRevoke(this: AuthorizationCode) {
    // Validate everything, then consume: a code refused afterwards for its resource would be
    // burned, and the corrected retry taken for replay.
    const ctx = Provider.ctx;
    if (ctx) assertRequestedResource(ctx, this);
    try {
      await consume.call(this);
    } catch (error) {
      // Another request consumed the code (or a replay revoked it) between our read and now.
      if (error instanceof errors.InvalidGrant && error.error_detail === CONSUME_LOST && this.grantId) {
        await revokeGrant(provider, this.grantId);
      }
      throw error;
    }
  };

  provider.on('grant.error', (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => {
    if (ctx.oidc.params?.grant_type !== 'authorization_code') return;
    const detail = String(error.error_detail ?? '');
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
