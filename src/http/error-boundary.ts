// Last line of defence for our own routes (oidc-provider renders its own errors): log the
// error with the request id, answer without internals, in the format the caller expects.
// A database that cannot be reached is not a bug: 503 with Retry-After (src/http/unavailable.ts).
import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import type { Endpoints } from './endpoints.js';
import { sendProblem } from './problem.js';
import { answerUnavailable } from './unavailable.js';

type HttpError = Error & { status?: number; expose?: boolean };

export function errorBoundary(logger: Logger, endpoints: Endpoints): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      const error = caught as HttpError;
      if (isDatabaseUnavailable(error)) {
        logger.warn({ reqId: ctx.state.requestId, err: error }, 'database unavailable');
        answerUnavailable(ctx, endpoints.formatOf(ctx));
        return;
      }
      const status = error.status && error.status >= 400 && error.status < 500 ? error.status : 500;
      if (status === 500) logger.error({ reqId: ctx.state.requestId, err: error }, 'unhandled error');
      const detail = status < 500 && error.expose ? error.message : undefined;
      if (ctx.accepts('html', 'json') === 'html') {
        const page = {
          title: status === 500 ? 'Something went wrong' : 'That did not work',
          message: detail ?? (status === 500 ? 'An unexpected error occurred. Please try again.' : 'The request could not be completed.'),
          code: `request id ${ctx.state.requestId as string}`,
        };
        const code = status === 500 ? 'server_error' : 'invalid_request';
        sendProblem(ctx, 'page', { status, error: code, description: page.message, page }, { noStore: false });
      } else {
        // RFC 9457 problem details for our own JSON endpoints (not OAuth ones: oidc-provider
        // answers those itself), so not an OAuth error body.
        ctx.status = status;
        ctx.type = 'application/problem+json';
        ctx.body = { type: 'about:blank', title: status === 500 ? 'Internal Server Error' : 'Bad Request', status, detail, instance: (ctx.state as { requestId?: string }).requestId };
      }
    }
  };
}
