// Where rate-limit counts live: in memory (one instance) by default, in Redis when REDIS_URL is
// set, so that every instance spends from one count per key. Each Redis limiter is insured by a
// memory limiter with the same policy (rate-limiter-flexible's insuranceLimiter): while Redis is
// unreachable each instance counts on its own, and requests keep being served.
// The workers of one cluster (src/cluster.ts) without Redis keep their counts in the primary's
// memory (rate-limiter-flexible's RateLimiterCluster, over node:cluster IPC): counted per worker,
// every limit would be multiplied by WEB_CONCURRENCY while RateLimit-Limit showed it undivided.
import { RateLimiterCluster, RateLimiterClusterMaster, RateLimiterMemory, RateLimiterRedis } from 'rate-limiter-flexible';
import type { RateLimit, RateLimitPolicy } from '../config.js';
import type { Logger } from '../logger.js';
import { memoryRateLimiter, rateLimiterFrom, type RateLimiter, type RateLimiterFor, type RateLimitOptions } from './rate-limit.js';
import { connectRedis, type RedisConnection } from './redis-connection.js';

export type RateLimitStore = {
  /** 'cluster': in the memory of the cluster's primary, shared by its workers. */
  kind: 'memory' | 'cluster' | 'redis';
  /** The limiter of one policy of config.rateLimits: the only place limiters are built. */
  limiterFor: RateLimiterFor;
  /** Redis configured and reachable now (always false for memory). */
  shared(): boolean;
  close(): Promise<void>;
};

export type RateLimitStoreOptions = {
  /** The policy table (config.rateLimits). */
  policies: Record<RateLimitPolicy, RateLimit>;
  redisUrl: string | undefined;
  /** Prefix of every key in Redis (REDIS_KEY_PREFIX). */
  keyPrefix: string;
  logger: Logger;
  /** Called for every refused request, with the policy's key prefix (metrics). */
  onRefusal?: (policy: string) => void;
  /** A cluster worker: without Redis, count in the primary (which called keepClusterRateLimits). */
  clusterWorker?: boolean;
};

/** How long a worker waits for the primary's answer before counting on its own for that request. */
const CLUSTER_ANSWER_TIMEOUT_MS = 2000;

/** In a cluster's primary, before forking: keeps the counts its workers spend from. */
export function keepClusterRateLimits(): void {
  new RateLimiterClusterMaster();
}

function clusterLimiter(options: RateLimitOptions, onFallback: (error: unknown) => void): RateLimiter {
  const shared = rateLimiterFrom(
    new RateLimiterCluster({ keyPrefix: options.keyPrefix, points: options.points, duration: options.durationSeconds, timeoutMs: CLUSTER_ANSWER_TIMEOUT_MS }),
    options.points,
  );
  // Refusals resolve; only a primary that does not answer rejects. Then this worker counts alone
  // rather than fail the request, as with Redis unreachable.
  const own = memoryRateLimiter(options);
  return {
    limit: options.points,
    consume: (key) =>
      shared.consume(key).catch((error: unknown) => {
        onFallback(error);
        return own.consume(key);
      }),
    refund: (key) =>
      shared.refund(key).catch((error: unknown) => {
        onFallback(error);
        return own.refund(key);
      }),
  };
}

function observed(limiter: RateLimiter, policy: string, onRefusal: ((policy: string) => void) | undefined): RateLimiter {
  if (!onRefusal) return limiter;
  return {
    limit: limiter.limit,
    refund: (key) => limiter.refund(key),
    async consume(key) {
      const result = await limiter.consume(key);
      if (!result.allowed) onRefusal(policy);
      return result;
    },
  };
}

function redisLimiter(connection: RedisConnection, prefix: string, options: RateLimitOptions): RateLimiter {
  const policy = { points: options.points, duration: options.durationSeconds };
  const store = new RateLimiterRedis({
    storeClient: connection.client,
    keyPrefix: `${prefix}rl:${options.keyPrefix}`,
    ...policy,
    // Straight to the insurance while the connection is down, instead of a failing command.
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix: options.keyPrefix, ...policy }),
  });
  return rateLimiterFrom(store, options.points);
}

/**
 * One limiter per policy and store, made on first use: every feature asking for a policy spends
 * from the same count, and a provider rebuilt when signing keys change gets no fresh budgets.
 */
function limiterTable(policies: Record<RateLimitPolicy, RateLimit>, build: (options: RateLimitOptions) => RateLimiter): RateLimiterFor {
  const made = new Map<RateLimitPolicy, RateLimiter>();
  return (policy) => {
    let limiter = made.get(policy);
    if (!limiter) {
      const { points, windowSeconds } = policies[policy];
      limiter = build({ keyPrefix: policy, points, durationSeconds: windowSeconds });
      made.set(policy, limiter);
    }
    return limiter;
  };
}

export async function openRateLimitStore(options: RateLimitStoreOptions): Promise<RateLimitStore> {
  const { redisUrl, keyPrefix, logger, onRefusal, policies } = options;
  if (!redisUrl && options.clusterWorker) {
    let warned = false;
    const onFallback = (err: unknown) => {
      if (warned) return;
      warned = true;
      logger.warn({ err }, 'the cluster primary did not answer a rate-limit count: this worker counted on its own (logged once)');
    };
    return {
      kind: 'cluster',
      limiterFor: limiterTable(policies, (limit) => observed(clusterLimiter(limit, onFallback), limit.keyPrefix, onRefusal)),
      shared: () => false,
      close: async () => undefined,
    };
  }
  if (!redisUrl) {
    return {
      kind: 'memory',
      limiterFor: limiterTable(policies, (limit) => observed(memoryRateLimiter(limit), limit.keyPrefix, onRefusal)),
      shared: () => false,
      close: async () => undefined,
    };
  }
  const connection = await connectRedis(redisUrl, logger);
  return {
    kind: 'redis',
    limiterFor: limiterTable(policies, (limit) => observed(redisLimiter(connection, keyPrefix, limit), limit.keyPrefix, onRefusal)),
    shared: () => connection.ready(),
    close: () => connection.close(),
  };
}
