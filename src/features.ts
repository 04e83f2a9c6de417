// The provider, feature by feature, in the order they are applied: read top to bottom, this is
// every setting's owner, every listener and model override (install) and every provider.use
// (middleware) in the order oidc-provider runs them. Configuration is merged by
// src/oidc/feature.ts, which refuses a setting set by two features; the code of each feature
// stays in its folder, only the wiring is here. Built again with each provider (new signing
// keys, src/keys/key-refresh.ts); what must outlive a rebuild (rate-limit budgets, the client
// cache) is made once by src/gatehouse.ts and passed in.
import type { Configuration } from 'oidc-provider';
import type { ClientLookup } from './db/oidc-adapter.js';
import type { ProviderJwk } from './keys/signing-keys.js';
import type { Feature, FeatureDependencies } from './oidc/feature.js';
import { coreFeature } from './oidc/provider.js';
import { installServerErrorHandling } from './oidc/errors.js';
import { installServices, preflightFilter, servicesConfiguration } from './oidc/services.js';
import { findSignInAccount, formPostTarget, installSignIn } from './sign-in/sign-in.js';
import { installRefreshTokenAudit, refreshTokenConfiguration, withRefreshPolicy } from './oidc/refresh-tokens.js';
import { installCodeReplay } from './oidc/code-replay.js';
import { deviceFlowConfiguration, unauthorizedClientError } from './device/flow.js';
import { codeEntryGuard, type CodeEntryLimiters } from './device/code-entry.js';
import { devicePolling } from './device/polling.js';
import { installClientRateLimits, settleAttempts, type ClientRateLimiters } from './oidc/client-rate-limits.js';
import { backchannelLogoutConfiguration, installBackchannelLogout } from './backchannel-logout/feature.js';
import { upstreamProviderConfiguration } from './upstream/feature.js';
import { mfaFeature } from './mfa/configuration.js';
import { installGrantAccessTokenCutoff, jwtAccessTokenConfiguration, jwtAccessTokenEndpoints } from './oidc/jwt-access-tokens.js';

/** Made once per process and shared by every provider built. */
export type LastingFeatureState = {
  findClient: ClientLookup;
  cookieKeys: string[];
  /** sign-in's configuration (logout pages, remembered consent, claims). */
  signIn: Partial<Configuration>;
  deviceLimiters: CodeEntryLimiters;
  clientLimiters: ClientRateLimiters;
};

export function providerFeatures(deps: FeatureDependencies, lasting: LastingFeatureState, jwks: ProviderJwk[]): Feature[] {
  const { config, prisma, sql, audit, logger } = deps;
  return [
    coreFeature({ config, prisma, sql, jwks, cookieKeys: lasting.cookieKeys, findClient: lasting.findClient }),
    { name: 'server errors', install: (provider) => installServerErrorHandling(provider, logger) },
    {
      name: 'services',
      configuration: servicesConfiguration(deps),
      install: (provider) => installServices(provider, deps),
      middleware: (provider) => [preflightFilter(provider, deps)],
    },
    {
      name: 'sign-in',
      configuration: lasting.signIn,
      install: (provider) => installSignIn(provider, deps),
      middleware: () => [formPostTarget()],
    },
    // Upstream identity providers: the `idp` hint reaches the login prompt.
    { name: 'upstream sign-in', configuration: upstreamProviderConfiguration() },
    // The second factor: acr_values_supported, and the step-up check on the login prompt.
    mfaFeature(deps),
    // Sign-in finds the person; the refresh-token policy refuses a refresh before that.
    { name: 'accounts', configuration: { findAccount: withRefreshPolicy(deps, findSignInAccount(deps)) } },
    {
      name: 'refresh tokens',
      configuration: refreshTokenConfiguration(deps),
      install: (provider) => installRefreshTokenAudit(provider, deps),
    },
    { name: 'code replay', install: (provider) => installCodeReplay(provider, deps) },
    {
      // Logout tokens go through the outbox (src/webhooks), never straight from end_session.
      name: 'back-channel logout',
      configuration: backchannelLogoutConfiguration(),
      install: (provider) => installBackchannelLogout(provider, { prisma, logger }),
    },
    {
      name: 'device flow',
      configuration: deviceFlowConfiguration(deps),
      middleware: (provider) => [
        // The wrong-code limit, polling control (slow_down), then RFC 6749 §5.2's error name.
        codeEntryGuard({ provider, audit, limiters: lasting.deviceLimiters }),
        devicePolling(prisma, config.device.pollIntervalSeconds),
        unauthorizedClientError(),
      ],
    },
    {
      name: 'client rate limits',
      install: (provider) => installClientRateLimits(provider, lasting.clientLimiters, deps),
      middleware: () => [settleAttempts(lasting.clientLimiters)],
    },
    {
      // Innermost: answers in place of oidc-provider's refusal of a JWT at introspection and
      // revocation, so everything above sees the final answer.
      name: 'JWT access tokens',
      configuration: jwtAccessTokenConfiguration(),
      install: (provider) => installGrantAccessTokenCutoff(provider, deps),
      middleware: (provider) => [jwtAccessTokenEndpoints(provider, deps, jwks)],
    },
  ];
}
