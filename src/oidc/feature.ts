// What every feature module of the provider configuration receives.
import type { GatehouseConfig } from '../config.js';
import type { AuditWriter } from '../audit/audit.js';
import type { Db } from '../db/client.js';
import type { RateLimiterFactory } from '../http/rate-limit.js';
import type { Logger } from '../logger.js';

export type FeatureDependencies = {
  config: GatehouseConfig;
  prisma: Db;
  logger: Logger;
  audit: AuditWriter;
  /** Rate limiters in the configured store: memory, or Redis shared by every instance. */
  createRateLimiter: RateLimiterFactory;
};
