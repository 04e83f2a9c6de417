// What every feature module of the provider configuration receives.
import type { GatehouseConfig } from '../config.js';
import type { AuditWriter } from '../audit/audit.js';
import type { Db } from '../db/client.js';
import type { RateLimiterFor } from '../http/rate-limit.js';
import type { Logger } from '../logger.js';

export type FeatureDependencies = {
  config: GatehouseConfig;
  prisma: Db;
  logger: Logger;
  audit: AuditWriter;
  /** A policy's rate limiter (config.rateLimits) in the configured store: memory, or Redis shared by every instance. */
  limiterFor: RateLimiterFor;
};
