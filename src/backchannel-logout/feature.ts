// The provider side of Back-Channel Logout: oidc-provider's feature is switched on for what it
// does well (client metadata backchannel_logout_uri and _session_required validated, `sid` in
// ID tokens, discovery's backchannel_logout_supported and backchannel_logout_session_supported),
// while the sending is replaced (provider-internals.ts) by a row in the outbox, so end_session
// never waits on a relying party and a token is retried until it arrives.
import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import type { Db } from '../db/client.js';
import type { Logger } from '../logger.js';
import { replaceBackchannelLogout } from '../oidc/provider-internals.js';
import { queueLogoutTokens } from './queue.js';

export function backchannelLogoutConfiguration(): Partial<Configuration> {
  return { features: { backchannelLogout: { enabled: true } } };
}

export function installBackchannelLogout(provider: Provider, deps: { prisma: Db; logger: Logger }): void {
  replaceBackchannelLogout(provider, async (clientId, accountId, sid) => {
    // The provider names the client and the sid it was told: queue exactly that one.
    try {
      await queueLogoutTokens(deps.prisma, accountId, [{ clientId, sid }]);
    } catch (err) {
      deps.logger.error({ err, clientId }, 'could not queue a back-channel logout');
    }
  });
}
