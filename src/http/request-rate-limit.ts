// The per-IP limit on every request, so one address cannot exhaust the server; before any handler.
// Health checks are exempt: a load balancer probing from one address must never be refused.
import type { Middleware } from 'koa';
import type { AuditWriter } from '../audit/audit.js';
import type { Logger } from '../logger.js';
import type { Endpoints } from './endpoints.js';
import { clientAddressKey, setRateLimitHeaders, type RateLimiter } from './rate-limit.js';
import { sendProblem, tooManyRequests } from './problem.js';

const EXEMPT = new Set(['/healthz', '/readyz']);

export type RequestRateLimitDeps = {
  limiter: RateLimiter;
  windowSeconds: number;
  endpoints: Endpoints;
  audit: AuditWriter;
  logger: Logger;
};

export function requestRateLimit(deps: RequestRateLimitDeps): Middleware {
  const { limiter, endpoints } = deps;
  return async (ctx, next) => {
    if (EXEMPT.has(ctx.path)) return next() as Promise<void>;
    const result = await limiter.consume(clientAddressKey(ctx.ip));
    setRateLimitHeaders(ctx, result);
    if (result.allowed) return next() as Promise<void>;
    // One audit event per address and window, not one per refused request: a flood must not
    // become a flood of rows.
    if (result.firstRefusal) {
      deps
        .audit({
          type: 'rate_limit.exceeded',
          outcome: 'failure',
          ip: ctx.ip,
          details: { policy: 'request-ip', route: endpoints.routeOf(ctx.path) ?? null, limit: result.limit, window_seconds: deps.windowSeconds },
        })
        .catch((err: unknown) => deps.logger.error({ err }, 'audit failed'));
    }
    sendProblem(ctx, endpoints.formatOf(ctx), tooManyRequests(result.resetSeconds));
  };
}
