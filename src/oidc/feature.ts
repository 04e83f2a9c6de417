// What every feature module of the provider configuration receives, and what it gives back: a
// Feature. src/features.ts lists them in order; createProvider (provider.ts) merges their
// configuration (refusing two features that set the same setting) and applies the rest in order.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Configuration } from 'oidc-provider';
import { interactionPolicy } from 'oidc-provider';
import type { GatehouseConfig } from '../config.js';
import type { AuditWriter } from '../audit/audit.js';
import type { DirectSql } from '../db/direct-sql.js';
import type { Db } from '../db/client.js';
import type { RateLimiterFor } from '../http/rate-limit.js';
import type { Logger } from '../logger.js';

export type FeatureDependencies = {
  config: GatehouseConfig;
  prisma: Db;
  /** Raw statements on the hot paths, on Prisma's own connection (src/db/direct-sql.ts). */
  sql: DirectSql;
  logger: Logger;
  audit: AuditWriter;
  /** A policy's rate limiter (config.rateLimits) in the configured store: memory, or Redis shared by every instance. */
  limiterFor: RateLimiterFor;
};

export type Feature = {
  /** Named in the start-up error when two features set the same setting. */
  name: string;
  configuration?: Partial<Configuration>;
  /**
   * Checks added to a prompt of the interaction policy, whichever feature set the policy
   * (interactions.policy, else oidc-provider's default one): several features can each add theirs.
   */
  promptChecks?: { prompt: 'login' | 'consent'; check: interactionPolicy.Check }[];
  /**
   * Work on the constructed provider that is not middleware: event listeners, and model
   * overrides (those go through src/oidc/provider-internals.ts). Runs before `middleware`.
   */
  install?: (provider: Provider) => void;
  /** Each passed to provider.use, in this order, after `install`. */
  middleware?: (provider: Provider) => Middleware[];
};

/** Settings whose keys several features each add to; every key inside still has one owner. */
const COMBINED = new Set(['features', 'ttl', 'interactions']);

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;

/**
 * The provider configuration of every feature, in list order. A setting set by two features is
 * a start-up error rather than the later one silently winning; `features`, `ttl` and
 * `interactions` merge key by key, and a key set twice inside them is refused as well.
 */
export function mergeConfigurations(features: Feature[]): Configuration {
  const merged: Record<string, unknown> = {};
  const owners = new Map<string, string>();
  const claim = (path: string, feature: Feature) => {
    const owner = owners.get(path);
    if (owner !== undefined) throw new Error(`provider setting ${path} is set by both ${owner} and ${feature.name}`);
    owners.set(path, feature.name);
  };
  for (const feature of features) {
    for (const [key, value] of Object.entries(feature.configuration ?? {})) {
      if (value === undefined) continue;
      if (COMBINED.has(key) && isPlainObject(value)) {
        const into = (merged[key] ??= {}) as Record<string, unknown>;
        for (const [inner, innerValue] of Object.entries(value)) {
          if (innerValue === undefined) continue;
          claim(`${key}.${inner}`, feature);
          into[inner] = innerValue;
        }
        continue;
      }
      claim(key, feature);
      merged[key] = value;
    }
  }
  const checks = features.flatMap((feature) => feature.promptChecks ?? []);
  if (checks.length) {
    const interactions = (merged.interactions ??= {}) as NonNullable<Configuration['interactions']>;
    // A policy set by a feature is made with interactionPolicy.base() too (src/device/flow.ts).
    const policy = (interactions.policy ??= interactionPolicy.base()) as interactionPolicy.DefaultPolicy;
    for (const { prompt, check } of checks) {
      const found = policy.get(prompt);
      if (!found) throw new Error(`the interaction policy has no ${prompt} prompt to add the ${check.reason} check to`);
      found.checks.add(check);
    }
  }
  return merged;
}
