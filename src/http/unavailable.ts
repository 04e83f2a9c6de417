// The answer while the database is unreachable (src/db/unavailable.ts decides when): 503 with
// Retry-After instead of a 500, in the format the caller expects. Protocol endpoints get the
// OAuth error `temporarily_unavailable` (RFC 6749 §4.1.2.1 and §5.2; RFC 6750 §3.1 for userinfo
// uses the same JSON shape), a person's browser gets a page that says to try again shortly.
// Used by our error boundary (our Koa routes) and for oidc-provider's routes (src/oidc/errors.ts).
import type { Context } from 'koa';
import { DATABASE_RETRY_AFTER_SECONDS, TEMPORARILY_UNAVAILABLE } from '../db/unavailable.js';
import { sendProblem, type Problem, type ResponseFormat } from './problem.js';

const UNAVAILABLE: Problem = {
  status: 503,
  error: TEMPORARILY_UNAVAILABLE.error,
  description: TEMPORARILY_UNAVAILABLE.error_description,
  page: { title: 'Temporarily unavailable', message: 'This service cannot complete your request right now. Please try again in a moment.' },
};

/**
 * Status, Retry-After and Cache-Control alone: for oidc-provider's routes whose page it has
 * rendered already (src/oidc/errors.ts).
 */
export function markUnavailable(ctx: Context): void {
  ctx.status = 503;
  ctx.set('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
  ctx.set('Cache-Control', 'no-store');
}

/** A complete 503 answer: a page for browsers, OAuth JSON for everything else. */
export function answerUnavailable(ctx: Context, format: ResponseFormat): void {
  markUnavailable(ctx);
  sendProblem(ctx, format, UNAVAILABLE);
}
