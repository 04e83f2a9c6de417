// Counts and times every request by route name (never the raw path: paths carry interaction
// ids, which would make every request its own time series).
import type { Context, Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Endpoints } from './endpoints.js';
import type { Metrics } from '../metrics/metrics.js';

function routeLabel(ctx: Context, endpoints: Endpoints): string {
  // oidc-provider names its routes; @koa/router records the pattern our routes matched.
  const oidcRoute = (ctx as Partial<KoaContextWithOIDC>).oidc?.route;
  if (oidcRoute) return oidcRoute;
  const matched = (ctx as Context & { _matchedRoute?: string | RegExp })._matchedRoute;
  if (typeof matched === 'string') return matched;
  if (ctx.path.startsWith('/static/')) return 'static';
  return endpoints.routeOf(ctx.path) ?? 'unmatched';
}

export function requestMetrics(metrics: Metrics, endpoints: Endpoints): Middleware {
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      metrics.observeRequest({
        method: ctx.method,
        route: routeLabel(ctx, endpoints),
        status: ctx.status,
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    }
  };
}
