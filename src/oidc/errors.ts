// How oidc-provider's errors reach a person's browser: our friendly page, never internals.
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC, errors } from 'oidc-provider';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { renderPage } from '../pages/render.js';
import { answerUnavailable, markUnavailable } from '../http/unavailable.js';
import type { Logger } from '../logger.js';

type ErrorOut = { error: string; error_description?: string };

/** Descriptions a person can act on; anything else collapses to a generic sentence. */
const PERSON_FACING: Record<string, string> = {
  invalid_request: 'The application sent an invalid sign-in request.',
  invalid_client: 'The application is not registered here, or is disabled.',
  invalid_redirect_uri: 'The application asked to return to an address that is not registered for it.',
  unauthorized_client: 'The application is not allowed to sign in this way.',
  unsupported_response_type: 'The application asked for a sign-in method that is not supported.',
  invalid_scope: 'The application asked for permissions it is not allowed.',
  access_denied: 'Access was denied.',
  login_required: 'You need to sign in.',
  consent_required: 'Your consent is required.',
  invalid_target: 'The application asked for an API it is not allowed to use.',
};

/** What to tell a person about an OAuth error code, never the (technical) description. */
export function personFacingMessage(error: string): string {
  return PERSON_FACING[error] ?? 'The request could not be completed.';
}

export async function renderProviderError(ctx: KoaContextWithOIDC, out: ErrorOut, error: errors.OIDCProviderError | Error): Promise<void> {
  if (isDatabaseUnavailable(error)) {
    answerUnavailable(ctx, 'page');
    return;
  }
  ctx.type = 'html';
  ctx.body = renderPage('error', {
    title: 'Something went wrong',
    message: personFacingMessage(out.error),
    code: out.error,
  });
}

/**
 * oidc-provider answers any error it does not know with 500 `server_error` and then emits
 * `server_error` (lib/shared/error_handler.js, authorization_error_handler.js). The listener runs
 * synchronously before the response is sent, so it can still turn a database outage into 503
 * `temporarily_unavailable` with Retry-After (RFC 6749 §5.2) — the one place for every provider
 * route. Browser-facing routes were already rendered by renderProviderError above (a page with
 * 503); JSON bodies are replaced here. Other server errors are logged, never shown.
 */
export function installServerErrorHandling(provider: Provider, logger: Logger): void {
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: Error) => {
    const reqId = ctx.state.requestId as string | undefined;
    if (!isDatabaseUnavailable(error)) {
      logger.error({ reqId, err: error, route: ctx.oidc?.route }, 'server error in the provider');
      return;
    }
    logger.warn({ reqId, err: error, route: ctx.oidc?.route }, 'database unavailable');
    if (ctx.response.is('html')) markUnavailable(ctx);
    else answerUnavailable(ctx, 'oauth');
  });
}
