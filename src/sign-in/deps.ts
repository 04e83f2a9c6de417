// What the interaction handlers work with, built once at start-up by interactionRoutes().
import type Provider from 'oidc-provider';
import type { PasswordHasher } from '../accounts/passwords.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import type { Csrf } from './csrf.js';

export type InteractionDeps = FeatureDependencies & {
  provider: Provider;
  hasher: PasswordHasher;
  csrf: Csrf;
  /** Failed sign-ins per client IP address. */
  loginLimiter: RateLimiter;
  /** Failed sign-ins per client IP address and account (email). */
  loginAccountLimiter: RateLimiter;
};
