// Request bodies are size-limited before anything reads them (bounded memory per request): a
// declared Content-Length above BODY_LIMIT is refused with 413 (RFC 9110 §15.5.14) in the
// endpoint's format, and the body is never read. Bodies sent without a length (chunked) are
// cut by the parser that reads them: our form reader (src/sign-in/form.ts) and
// oidc-provider's (56 KiB, answered with invalid_request).
import type { Middleware } from 'koa';
import type { Endpoints } from './endpoints.js';
import { sendProblem } from './problem.js';

export function bodyLimit(limitBytes: number, endpoints: Endpoints): Middleware {
  return async (ctx, next) => {
    const declared = ctx.get('content-length');
    if (!declared || Number(declared) <= limitBytes) return next() as Promise<void>;
    // The unread body is not drained: the connection is closed after the answer.
    ctx.set('Connection', 'close');
    sendProblem(ctx, endpoints.formatOf(ctx), {
      status: 413,
      error: 'invalid_request',
      description: `request body too large (at most ${limitBytes} bytes)`,
      page: { title: 'That did not work', message: 'The form sent was too large. Go back, reload the page and try again.' },
    });
  };
}
