// What the interaction handlers work with, built once at start-up by interactionRoutes().
import type Provider from 'oidc-provider';
import type { PasswordHasher } from '../accounts/passwords.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import type { Context } from 'koa';
import type { Csrf } from './csrf.js';
import type { LoadedInteraction } from './interaction.js';

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

type InteractionHandler = (ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction) => Promise<void>;

/**
 * What another feature adds to signing in (src/mfa: a second factor, passkeys), wired in
 * src/gatehouse.ts. Without one, a right password finishes the login with amr ['pwd'].
 */
export type SignInExtension = {
  /** Whether a further step follows the right password of this person (then the password does not end the lockout window). */
  stepFollowsPassword(interaction: LoadedInteraction, userId: string): Promise<boolean>;
  /** After a right password: finishes the login or leads the person to the further step. */
  afterPassword(ctx: Context, interaction: LoadedInteraction, userId: string, stepFollows: boolean): Promise<void>;
  /** A page shown in place of the login form when it matches (a step-up for the person already signed in). */
  loginVariant?: { matches(interaction: LoadedInteraction): boolean; show: InteractionHandler };
  /** More for the login page (views/login.eta): view data, and whether the page runs our scripts. */
  loginPage?(interaction: LoadedInteraction): { data: Record<string, unknown>; scripts: boolean };
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
  /** Added to signing in by another feature (src/mfa). */
  extension: SignInExtension | undefined;
};
