// What the interaction handlers work with, built once at start-up by interactionRoutes().
import type Provider from 'oidc-provider';
import type { PasswordHasher } from '../accounts/passwords.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import type { Csrf } from './csrf.js';
import type { LoadedInteraction } from './interaction.js';
import type { Context } from 'koa';

/** Another way to sign in, offered on the login page (a "Continue with …" link). */
type LoginAlternative = { label: string; href: string };

/**
 * What another feature adds to the login prompt (upstream identity providers, src/upstream/):
 * links on the page, and the chance to answer the prompt itself (an `idp` hint). Injected by
 * src/gatehouse.ts, so sign-in does not import the feature.
 */
export type LoginExtension = {
  alternatives(interaction: LoadedInteraction): Promise<LoginAlternative[]>;
  /** True when it answered the request (e.g. redirected straight to an upstream). */
  intercept(ctx: Context, interaction: LoadedInteraction): Promise<boolean>;
};

export type InteractionDeps = FeatureDependencies & {
  provider: Provider;
  hasher: PasswordHasher;
  csrf: Csrf;
  /** Failed sign-ins per client IP address. */
  loginLimiter: RateLimiter;
  /** Failed sign-ins per client IP address and account (email). */
  loginAccountLimiter: RateLimiter;
  loginExtension: LoginExtension | undefined;
};
