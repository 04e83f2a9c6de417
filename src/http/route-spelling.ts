// Only the canonical spelling of an oidc-provider route reaches the provider. Its router would
// also run `/TOKEN` or `/device/` (provider-routes.ts), and every check made in front of it by
// path (the device wrong-code limit, the CORS preflight filter, ...) would be skipped; refusing
// the other spellings here keeps each of those checks a plain comparison. No client needs them:
// endpoints are published, as spelled, in the discovery document.
import type { Middleware } from 'koa';
import type { Endpoints } from './endpoints.js';
import { sendProblem } from './problem.js';

export function refuseRouteMisspellings(endpoints: Endpoints): Middleware {
  return async (ctx, next) => {
    const route = endpoints.providerRoutes.match(ctx.path);
    if (!route || route.canonicalPath === ctx.path) return next() as Promise<void>;
    sendProblem(ctx, endpoints.formatOf(ctx), {
      status: 404,
      error: 'invalid_request',
      description: 'no endpoint at this path (paths are case-sensitive and have no trailing slash)',
      page: { title: 'Page not found', message: 'There is no page at this address. Check the link, or go back to the application and start again.' },
    });
  };
}
