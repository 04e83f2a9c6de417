// Stored user tokens minted through the running provider's own models.
import { randomUUID } from 'node:crypto';
import type { TestGatehouse } from './gatehouse.js';

/**
 * Tokens a person's sign-in would leave behind (grant, refresh token, opaque userinfo access
 * token), created through oidc-provider's own models in the running instance and stored through
 * the real adapter: the services tests need stored tokens before the sign-in flow exists.
 */
export async function mintUserTokens(gh: TestGatehouse, clientId: string, accountId = `acct-${randomUUID()}`) {
  const provider = gh.provider();
  const client = await provider.Client.find(clientId);
  if (!client) throw new Error(`client ${clientId} is not loadable by the provider`);
  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope('openid offline_access');
  const grantId = await grant.save();
  const refreshToken = await new provider.RefreshToken({
    client,
    accountId,
    grantId,
    scope: 'openid offline_access',
    gty: 'authorization_code',
  }).save();
  const accessToken = await new provider.AccessToken({ client, accountId, grantId, scope: 'openid', gty: 'authorization_code' }).save();
  return { accountId, grantId, refreshToken, accessToken };
}
