// Rate limiting behind one small interface, so that the store can change (memory in one process,
// Redis shared by every instance: rate-limit-store.ts) without touching the routes that use it.
// Counting is rate-limiter-flexible's: fixed windows per key, atomic per store.
import { isIPv6 } from 'node:net';
import type { Context } from 'koa';
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitPolicy } from '../config.js';

export type RateLimitResult = {
  allowed: boolean;
  /** Points per window. */
  limit: number;
  remaining: number;
  /** Seconds until the window resets (at least 1). */
  resetSeconds: number;
  /** True for the first refused request of a key's window (one audit event per key and window). */
  firstRefusal?: boolean;
};

export type RateLimiter = {
  readonly limit: number;
  /** Spends one point of `key`'s window; `allowed` is false when none was left. */
  consume(key: string): Promise<RateLimitResult>;
  /** Gives one point back, e.g. after an attempt that should not count (a successful sign-in). */
  refund(key: string): Promise<void>;
};

export type RateLimitOptions = { keyPrefix: string; points: number; durationSeconds: number };

/** The limiter of a policy in the configured store (memory, or Redis shared by every instance). */
export type RateLimiterFor = (policy: RateLimitPolicy) => RateLimiter;

function resultOf(res: RateLimiterRes, limit: number, allowed: boolean): RateLimitResult {
  return {
    allowed,
    limit,
    remaining: Math.max(0, res.remainingPoints),
    resetSeconds: Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
    firstRefusal: !allowed && res.consumedPoints === limit + 1,
  };
}

/** Wraps any rate-limiter-flexible store (RateLimiterMemory, RateLimiterRedis, ...). */
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
 * The key for a client address: an IPv4 address as it is (IPv4-mapped IPv6 included), an IPv6
 * address by its /64 prefix, since one subscriber usually holds a whole /64 (RFC 6177 §2).
 */
export function clientAddressKey(ip: string): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.split('%')[0]!.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

const SHOWN = Symbol('rateLimitShown');
type StateWithShown = { [SHOWN]?: RateLimitResult };

/**
 * RateLimit-* fields (draft-ietf-httpapi-ratelimit-headers) on every limited response, and
 * Retry-After (RFC 9110 §10.2.3) when the request was refused. When several policies apply to
 * one request, the fields describe the one closest to exhaustion, as the draft advises, and a
 * refusal always wins.
 */
export function setRateLimitHeaders(ctx: Context, result: RateLimitResult): void {
  const state = ctx.state as StateWithShown;
  const shown = state[SHOWN];
  if (shown && (!shown.allowed || (result.allowed && shown.remaining < result.remaining))) return;
  state[SHOWN] = result;
  ctx.set('RateLimit-Limit', String(result.limit));
  ctx.set('RateLimit-Remaining', String(result.remaining));
  ctx.set('RateLimit-Reset', String(result.resetSeconds));
  if (!result.allowed) ctx.set('Retry-After', String(result.resetSeconds));
}
