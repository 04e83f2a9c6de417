// The one way an error is answered outside oidc-provider's own renderers, in the format of the
// endpoint it was meant for (endpoints.ts formatOf): OAuth error JSON (RFC 6749 §5.2) for
// software, one of our pages (src/pages) for a person's browser. Never cached, unless the caller
// says the answer keeps the headers it had (the error boundary, which never set Cache-Control).
import type { Context } from 'koa';
import { renderPage } from '../pages/render.js';

/** OAuth-style JSON (RFC 6749 §5.2) or one of our HTML pages. */
export type ResponseFormat = 'oauth' | 'page';

export type Problem = {
  status: number;
  /** OAuth error code; also the code shown on the page unless `page.code` is given. */
  error: string;
  /** The OAuth error_description. */
  description: string;
  page: { title: string; message: string; code?: string };
};

export function sendProblem(ctx: Context, format: ResponseFormat, problem: Problem, { noStore = true }: { noStore?: boolean } = {}): void {
  ctx.status = problem.status;
  if (noStore) ctx.set('Cache-Control', 'no-store');
  if (format === 'page') {
    ctx.type = 'html';
    ctx.body = renderPage('error', { title: problem.page.title, message: problem.page.message, code: problem.page.code ?? problem.error });
  } else {
    ctx.type = 'json';
    ctx.body = { error: problem.error, error_description: problem.description };
  }
}

function waitText(seconds: number): string {
  if (seconds < 120) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

/**
 * 429 (RFC 6585 §4). The OAuth code is temporarily_unavailable (RFC 6749 §4.1.2.1: "unable to
 * handle the request due to a temporary overloading"), the nearest registered one.
 */
export function tooManyRequests(resetSeconds: number): Problem {
  return {
    status: 429,
    error: 'temporarily_unavailable',
    description: `too many requests; retry after ${resetSeconds} seconds`,
    page: {
      title: 'Too many requests',
      message: `Too many requests came from your network. Wait ${waitText(resetSeconds)} and try again.`,
    },
  };
}
