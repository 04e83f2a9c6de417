// Rate limiting behind one small interface, so that the store can change (memory in one process
// today; Redis shared by every instance later) without touching the routes that use it.
// Counting is rate-limiter-flexible's: fixed windows per key, atomic per store.
import type { Context } from 'koa';
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

export type RateLimitResult = {
  allowed: boolean;
  /** Points per window. */
  limit: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
};

export type RateLimiter = {
  readonly limit: number;
  /** Spends one point of `key`'s window; `allowed` is false when none was left. */
  consume(key: string): Promise<RateLimitResult>;
  /** Gives one point back, e.g. after an attempt that should not count (a successful sign-in). */
  refund(key: string): Promise<void>;
};

export type RateLimitOptions = { keyPrefix: string; points: number; durationSeconds: number };

function resultOf(res: RateLimiterRes, limit: number, allowed: boolean): RateLimitResult {
  return {
    allowed,
    limit,
    remaining: Math.max(0, res.remainingPoints),
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  };
}

/** Wraps any rate-limiter-flexible store (memory now; RateLimiterRedis can be passed later). */
export function rateLimiterFrom(store: RateLimiterAbstract, limit: number): RateLimiter {
  return {
    limit,
    async consume(key) {
      try {
        return resultOf(await store.consume(key, 1), limit, true);
      } catch (rejection) {
        // A refusal is a RateLimiterRes; anything else is a store failure and propagates.
        if (rejection instanceof RateLimiterRes) return resultOf(rejection, limit, false);
        throw rejection;
      }
    },
    async refund(key) {
      await store.reward(key, 1);
    },
  };
}

export function memoryRateLimiter(options: RateLimitOptions): RateLimiter {
  return rateLimiterFrom(
    new RateLimiterMemory({ keyPrefix: options.keyPrefix, points: options.points, duration: options.durationSeconds }),
    options.points,
  );
}

/**
 * RateLimit-* fields (draft-ietf-httpapi-ratelimit-headers) on every limited response, and
 * Retry-After (RFC 9110 §10.2.3) when the request was refused.
 */
export function setRateLimitHeaders(ctx: Context, result: RateLimitResult): void {
  ctx.set('RateLimit-Limit', String(result.limit));
  ctx.set('RateLimit-Remaining', String(result.remaining));
  ctx.set('RateLimit-Reset', String(result.resetSeconds));
  if (!result.allowed) ctx.set('Retry-After', String(result.resetSeconds));
}
