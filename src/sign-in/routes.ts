// Interaction routes: where oidc-provider sends the browser when a person must sign in or
// consent (interactions.url in src/oidc/provider.ts), and where those forms are posted.
//
//   GET  /interaction/:uid          the page for the pending prompt (login or consent)
//   POST /interaction/:uid/login    email + password
//   POST /interaction/:uid/consent  allow or deny
//   POST /interaction/:uid/abort    cancel from the login page (access_denied to the client)
//   POST /interaction/:uid/<form>   a consent variant's own form, e.g. /device to approve or deny a
//                                   device code (src/device/confirmation.ts)
//
// Plain HTML forms, no script. Every POST carries a CSRF token (csrf.ts), has a size-limited
// body validated by zod (form.ts), and ends in a 303 or a re-rendered page.
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { createPasswordHasher } from '../accounts/passwords.js';
import { INTERACTION_PATH } from '../http/endpoints.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import { showConsentPrompt, submitAbort, submitConsent } from './consent.js';
import { createCsrf } from './csrf.js';
import type { InteractionDeps, LoginExtension, SignInExtension } from './deps.js';
import { FormError } from './form.js';
import { loadInteraction, type LoadedInteraction } from './interaction.js';
import { showLoginPrompt, submitLogin } from './login.js';
import { EXPIRED_PAGE, FORM_UNREADABLE_PAGE, sendErrorPage, type ErrorPage } from '../pages/pages.js';

const FORM_ERROR_PAGES: Record<number, ErrorPage> = {
  413: { ...FORM_UNREADABLE_PAGE, status: 413, message: 'The form sent was too large. Go back, reload the page and try again.' },
  415: { ...FORM_UNREADABLE_PAGE, status: 415 },
};

const WRONG_STEP: ErrorPage = {
  status: 400,
  title: 'That step is already done',
  message: 'This form does not belong to the current step of signing in. Go back to the application and start again.',
  code: 'interaction_step_mismatch',
};

/** The provider's cookie keys, shared by every instance (loaded from the database). */
function cookieKeysOf(provider: Provider): string[] {
  const keys: unknown = provider.keys;
  if (!Array.isArray(keys) || !keys.every((k): k is string => typeof k === 'string') || keys.length === 0) {
    throw new Error('the provider has no cookie keys to derive CSRF tokens from');
  }
  return keys;
}

type InteractionHandler = (ctx: Context, deps: InteractionDeps, interaction: LoadedInteraction) => Promise<void>;
type Handler = InteractionHandler;

/**
 * A page another feature shows in place of the consent page for the interactions it owns (the
 * device flow's confirmation), with the one form it posts to /interaction/:uid/<form>.
 */
export type ConsentVariant = {
  matches(interaction: LoadedInteraction): boolean;
  show: InteractionHandler;
  form: string;
  submit: InteractionHandler;
};

/** Loads the interaction named in the URL (and by the cookie), checks the step, runs `handler`. */
function withInteraction(deps: InteractionDeps, step: string | null, handler: Handler) {
  return async (ctx: Context) => {
    const found = await loadInteraction(deps.provider, ctx, String((ctx.params as { uid?: string }).uid ?? ''));
    if (!found.ok) return sendErrorPage(ctx, EXPIRED_PAGE);
    if (step && found.interaction.prompt.name !== step) return sendErrorPage(ctx, WRONG_STEP);
    try {
      await handler(ctx, deps, found.interaction);
    } catch (error) {
      if (error instanceof FormError) return sendErrorPage(ctx, FORM_ERROR_PAGES[error.status] ?? FORM_UNREADABLE_PAGE);
      throw error;
    }
  };
}

function promptPage(variants: readonly ConsentVariant[]): Handler {
  return async (ctx, deps, interaction) => {
    switch (interaction.prompt.name) {
      case 'login':
        if (deps.extension?.loginVariant?.matches(interaction)) return deps.extension.loginVariant.show(ctx, deps, interaction);
        return showLoginPrompt(ctx, deps, interaction);
      case 'consent': {
        const variant = variants.find((v) => v.matches(interaction));
        return variant ? variant.show(ctx, deps, interaction) : showConsentPrompt(ctx, deps, interaction);
      }
      default:
        deps.logger.warn({ prompt: interaction.prompt.name }, 'interaction prompt without a page');
        return sendErrorPage(ctx, { ...WRONG_STEP, title: 'This sign-in cannot continue', code: 'unsupported_prompt' });
    }
  };
}

export function interactionRoutes(
  currentProvider: () => Provider,
  features: FeatureDependencies,
  consentVariants: readonly ConsentVariant[] = [],
  loginExtension?: LoginExtension,
  extension?: SignInExtension,
): Router {
  const provider = currentProvider();
  const deps: InteractionDeps = {
    ...features,
    // The provider is rebuilt when signing keys change; handlers always reach the current one.
    get provider() {
      return currentProvider();
    },
    // Created now so the dummy hash for unknown emails is computed at start-up.
    hasher: createPasswordHasher(undefined, features.config.passwordHashConcurrency),
    csrf: createCsrf(cookieKeysOf(provider)),
    loginLimiter: features.limiterFor('login-ip'),
    loginAccountLimiter: features.limiterFor('login-ip-account'),
    loginExtension,
    extension,
  };

  const router = new Router({ prefix: INTERACTION_PATH });
  router.get('/:uid', withInteraction(deps, null, promptPage(consentVariants)));
  router.post('/:uid/login', withInteraction(deps, 'login', submitLogin));
  router.post('/:uid/consent', withInteraction(deps, 'consent', submitConsent));
  router.post('/:uid/abort', withInteraction(deps, null, submitAbort));
  for (const variant of consentVariants) router.post(`/:uid/${variant.form}`, withInteraction(deps, 'consent', variant.submit));
  return router;
}
