// What the second-factor routes work with, built once at start-up (src/gatehouse.ts).
import type Provider from 'oidc-provider';
import type { KeyEncryptionKey } from '../keys/encryption.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import { createCsrf, type Csrf } from '../sign-in/csrf.js';
import { relyingPartyOf, type RelyingParty } from './passkeys.js';

export type MfaDeps = FeatureDependencies & {
  /** The provider serving now (rebuilt when signing keys change). */
  provider: () => Provider;
  kek: KeyEncryptionKey;
  csrf: Csrf;
  rp: RelyingParty;
  /** The sign-in limits (login-ip, login-ip-account): wrong codes spend them as wrong passwords do. */
  loginLimiter: RateLimiter;
  loginAccountLimiter: RateLimiter;
};

export function mfaDependencies(features: FeatureDependencies, provider: () => Provider, kek: KeyEncryptionKey, cookieKeys: readonly string[]): MfaDeps {
  return {
    ...features,
    provider,
    kek,
    csrf: createCsrf(cookieKeys),
    rp: relyingPartyOf(features.config.issuer),
    loginLimiter: features.limiterFor('login-ip'),
    loginAccountLimiter: features.limiterFor('login-ip-account'),
  };
}
