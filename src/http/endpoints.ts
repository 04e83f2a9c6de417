// Which endpoint a request is for, before any handler has run: refusals made in front of the
// handlers (rate limits, body limits) answer in that endpoint's own format, and metrics label
// requests by route name, never by raw path (paths carry interaction ids). oidc-provider's
// routes are recognised as its router recognises them (provider-routes.ts), in any spelling.
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { ResponseFormat } from './problem.js';
import { providerRoutesOf, type ProviderRoutes } from './provider-routes.js';

/** Where oidc-provider sends the browser for a prompt (interactions.url); our routes live below it. */
export const INTERACTION_PATH = '/interaction';

/** Self-service pages (issue 20), each served by its feature folder; login.eta links to the first two. */
export const PASSWORD_RESET_PATH = '/password-reset';
export const SIGN_UP_PATH = '/sign-up';
export const EMAIL_VERIFICATION_PATH = '/email-verification';
export const ACCOUNT_PATH = '/account';
const SELF_SERVICE_PATHS = [PASSWORD_RESET_PATH, SIGN_UP_PATH, EMAIL_VERIFICATION_PATH, ACCOUNT_PATH];

/** oidc-provider routes a person's browser is sent to; every other one answers software in JSON. */
const BROWSER_ROUTES = new Set([
  'authorization',
  'resume',
  'end_session',
  'end_session_confirm',
  'end_session_success',
  'code_verification',
  'device_resume',
]);

export type Endpoints = {
  /** The route name for metrics: an oidc-provider route, or one of ours; undefined if unknown. */
  routeOf(path: string): string | undefined;
  formatOf(ctx: Context): ResponseFormat;
  /** oidc-provider's routes, matched as its router matches them. */
  providerRoutes: ProviderRoutes;
};

/** Route paths come from configuration, so any provider built from it gives the same map. */
export function endpointsOf(provider: Provider, issuer: string): Endpoints {
  const providerRoutes = providerRoutesOf(provider, issuer);
  // @koa/router matches our routes without regard to case (its default).
  const interactions = `${INTERACTION_PATH}/`.toLowerCase();
  const selfService = (path: string): string | undefined => {
    const lower = path.toLowerCase();
    const prefix = SELF_SERVICE_PATHS.find((p) => lower === p || lower.startsWith(`${p}/`));
    return prefix?.slice(1);
  };
  const routeOf = (path: string): string | undefined =>
    providerRoutes.match(path)?.name ?? (path.toLowerCase().startsWith(interactions) ? 'interaction' : selfService(path));

  return {
    routeOf,
    providerRoutes,
    formatOf(ctx) {
      const route = routeOf(ctx.path);
      if (route === 'interaction' || (route && (BROWSER_ROUTES.has(route) || selfService(ctx.path)))) return 'page';
      if (route) return 'oauth';
      return ctx.accepts('json', 'html') === 'html' ? 'page' : 'oauth';
    },
  };
}
