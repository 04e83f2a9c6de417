// Sign-in through upstream identity providers, as the rest of Gatehouse sees it: the provider
// setting it needs (the `idp` authorization parameter kept for the login prompt), the routes,
// and the additions to the login page. src/gatehouse.ts and src/features.ts wire it.
import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import { createPasswordHasher } from '../accounts/passwords.js';
import type { KeyEncryptionKey } from '../keys/encryption.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import { createCsrf } from '../sign-in/csrf.js';
import type { LoginExtension } from '../sign-in/deps.js';
import type { SigningKeySource } from './oauth-client.js';
import { upstreamLoginExtension, upstreamRoutes, type UpstreamDeps } from './routes.js';

/**
 * `idp`: an authorization request may name the upstream to sign in with (documented in the
 * README); oidc-provider drops parameters it does not know unless they are listed here.
 */
export function upstreamProviderConfiguration(): Partial<Configuration> {
  return { extraParams: ['idp'] };
}

export type UpstreamSignIn = { router: Router; loginExtension: LoginExtension };

export function upstreamSignIn(
  features: FeatureDependencies,
  provider: () => Provider,
  keys: { kek: KeyEncryptionKey; cookieKeys: string[]; signingKey: SigningKeySource },
): UpstreamSignIn {
  const { kek, cookieKeys, signingKey } = keys;
  const deps: UpstreamDeps = {
    ...features,
    provider,
    kek,
    signingKey,
    csrf: createCsrf(cookieKeys),
    hasher: createPasswordHasher(),
    loginLimiter: features.limiterFor('login-ip'),
  };
  return { router: upstreamRoutes(deps), loginExtension: upstreamLoginExtension(deps) };
}
