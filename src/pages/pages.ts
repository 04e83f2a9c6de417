// Answering with one of our pages: HTML, never cached (they carry CSRF tokens and personal
// data), and a form-action policy that names where the page's forms may lead.
import type { Context } from 'koa';
import { allowFormTarget, allowOwnScripts } from './form-targets.js';
import { renderPage } from './render.js';

export type PageOptions = {
  status?: number;
  /** Where a form on the page ends up after redirects (a validated redirect_uri). */
  formTargets?: (string | undefined)[];
  /** The page runs our own scripts from /static (passkeys): script-src and connect-src 'self'. */
  scripts?: boolean;
};

export function sendPage(ctx: Context, view: string, data: Record<string, unknown>, options: PageOptions = {}): void {
  for (const target of options.formTargets ?? []) if (target) allowFormTarget(ctx, target);
  if (options.scripts) allowOwnScripts(ctx);
  ctx.status = options.status ?? 200;
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  ctx.body = renderPage(view, data);
}

export type ErrorPage = { status: number; title: string; message: string; code?: string };

export function sendErrorPage(ctx: Context, page: ErrorPage): void {
  sendPage(ctx, 'error', { title: page.title, message: page.message, code: page.code }, { status: page.status });
}

/** The interaction is unknown, expired, or belongs to another browser. */
export const EXPIRED_PAGE: ErrorPage = {
  status: 400,
  title: 'This sign-in page has expired',
  message: 'Sign-in pages are valid for a limited time and only in the browser that opened them. Go back to the application and start again.',
  code: 'interaction_expired',
};

export const FORM_UNREADABLE_PAGE: ErrorPage = {
  status: 400,
  title: 'That did not work',
  message: 'The form could not be read. Go back, reload the page and try again.',
  code: 'invalid_form',
};

export const CSRF_PAGE: ErrorPage = {
  status: 403,
  title: 'This form could not be accepted',
  message: 'The form was not sent from this sign-in page, or the page is out of date. Go back, reload the page and try again.',
  code: 'csrf_check_failed',
};
