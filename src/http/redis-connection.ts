// The Redis connection that rate-limit counts are shared through. Redis is an optimisation of
// correctness across instances, never a dependency of serving: commands fail fast while it is
// unreachable (no offline queue, no retries of a request's command, a short command timeout),
// so callers fall back at once, and the client keeps reconnecting in the background. State
// changes are logged once each, not once per failed reconnection attempt.
import { once } from 'node:events';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';

export type RedisConnection = {
  client: Redis;
  /** True while commands can be sent. */
  ready(): boolean;
  close(): Promise<void>;
};

/** host:port only: a Redis URL may carry a password, which must never reach a log line. */
function redisLocation(url: string): string {
  const parsed = URL.parse(url);
  return parsed ? `${parsed.hostname}:${parsed.port || '6379'}` : 'redis';
}

/** Waits at most `waitMs` for the first connection; an unreachable Redis does not stop start-up. */
export async function connectRedis(url: string, logger: Logger, waitMs = 2000): Promise<RedisConnection> {
  const where = redisLocation(url);
  const client = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: 1000,
    connectTimeout: 2000,
    // Keep trying, at most every 2 s: counts are shared again as soon as Redis is back.
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    lazyConnect: true,
  });
  let wasReady = false;
  let reportedDown = false;
  let closing = false;
  client.on('ready', () => {
    if (reportedDown) logger.info({ redis: where }, 'Redis reachable again: rate-limit counts are shared between instances');
    wasReady = true;
    reportedDown = false;
  });
  const down = (err?: Error) => {
    if (reportedDown || closing) return;
    reportedDown = true;
    logger.warn(
      { redis: where, reason: err?.message ?? 'connection closed' },
      wasReady
        ? 'Redis unreachable: rate limits fall back to in-memory counts on this instance until it is back'
        : 'Redis not reachable at start-up: rate limits use in-memory counts on this instance until it is',
    );
  };
  // Without an 'error' listener an unreachable Redis would crash the process.
  client.on('error', (err: Error) => down(err));
  client.on('close', () => {
    if (wasReady) down();
  });

  client.connect().catch(() => undefined);
  const timeout = AbortSignal.timeout(waitMs);
  await once(client, 'ready', { signal: timeout }).catch(() => undefined);

  return {
    client,
    ready: () => client.status === 'ready',
    close: async () => {
      closing = true;
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    },
  };
}
