// Per-client rate limits on the token endpoint and on introspection (security checklist
// item 16). The client is counted where oidc-provider looks it up while authenticating it
// (lib/shared/client_auth.js calls Client.find with the client_id the request names, from the
// Authorization header, the body or the client assertion), so the count is taken before any
// secret is compared or assertion verified, and the refusal is an oidc-provider error: the
// endpoint's own JSON format, with its CORS handling and its `grant.error` /
// `introspection.error` events.
//
// The count is per client_id as named, before authentication: it bounds what anyone can spend
// on one client's credentials. All users of a public client share its count.
import { createHash } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { setRateLimitHeaders, type RateLimiter, type RateLimitResult } from '../http/rate-limit.js';
import type { RateLimitPolicy } from '../config.js';
import { gatehouseMetadataOf } from '../clients/provider-metadata.js';
import type { FeatureDependencies } from './feature.js';
import { CORS_ORIGIN_VERIFIED } from './services.js';

export type ClientRateLimiters = {
  token: { limiter: RateLimiter; policy: RateLimitPolicy };
  introspection: { limiter: RateLimiter; policy: RateLimitPolicy };
};

class TooManyRequests extends errors.OIDCProviderError {
  constructor(result: RateLimitResult) {
    // RFC 6585 §4; the code is RFC 6749 §4.1.2.1's, the registered one nearest in meaning.
    super(429, 'temporarily_unavailable');
    this.error_description = `too many requests for this client; retry after ${result.resetSeconds} seconds`;
  }
}

/** client_ids are at most 100 characters here; a longer claimed one is hashed into the key. */
function clientKey(clientId: string): string {
  return clientId.length <= 128 ? clientId : `sha256:${createHash('sha256').update(clientId).digest('base64url')}`;
}

export function installClientRateLimits(provider: Provider, limiters: ClientRateLimiters, { audit, logger }: FeatureDependencies): void {
  const Client = provider.Client;
  const find = Client.find.bind(Client);
  const counted = new WeakSet<object>();

  Client.find = async (clientId: string) => {
    const ctx: KoaContextWithOIDC | undefined = Provider.ctx;
    const route = ctx?.oidc.route;
    // Only the first look-up of a request is the authenticating one.
    if (!ctx || (route !== 'token' && route !== 'introspection') || counted.has(ctx)) return find(clientId);
    counted.add(ctx);
    const { limiter, policy } = limiters[route];
    const result = await limiter.consume(clientKey(clientId));
    setRateLimitHeaders(ctx, result);
    if (result.allowed) return find(clientId);

    if (result.firstRefusal) {
      audit({
        type: 'rate_limit.exceeded',
        outcome: 'failure',
        clientId: clientId.slice(0, 200),
        ip: ctx.ip,
        details: { policy: `${route}-client`, route, limit: result.limit, window_seconds: policy.windowSeconds },
      }).catch((err: unknown) => logger.error({ err }, 'audit failed'));
    }
    // A browser app may read the refusal if the client it names registered its origin.
    const origin = ctx.get('Origin');
    const client = origin ? await find(clientId) : undefined;
    if (client && gatehouseMetadataOf(client).corsOrigins.includes(origin)) {
      (ctx.state as Record<symbol, unknown>)[CORS_ORIGIN_VERIFIED] = true;
    }
    throw new TooManyRequests(result);
  };
}
