// How oidc-provider's errors reach a person's browser: our friendly page, never internals.
import type { KoaContextWithOIDC, errors } from 'oidc-provider';
import { renderPage } from '../interactions/render.js';

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

export async function renderProviderError(ctx: KoaContextWithOIDC, out: ErrorOut, _error: errors.OIDCProviderError | Error): Promise<void> {
  ctx.type = 'html';
  ctx.body = renderPage('error', {
    title: 'Something went wrong',
    message: personFacingMessage(out.error),
    code: out.error,
  });
}
