// Per-client rate limits on the token endpoint and on introspection (a bound on guessing a
// secret). The client is counted where oidc-provider looks it up while authenticating it
// (its client authentication calls Client.find with the client_id the request names, from the
// Authorization header, the body or the client assertion), so the count is taken before any
// secret is compared or assertion verified, and the refusal is an oidc-provider error: the
// endpoint's own JSON format, with its CORS handling and its `grant.error` /
// `introspection.error` events.
//
// Anyone can name a client_id, so a request is counted in two budgets: one point of the failure
// budget of the client *and the caller's address*, then one point of the client's own budget.
// Once the request is answered, a failed authentication (invalid_client) gives the client's
// point back and keeps its failure point; any other outcome gives the failure point back. So
// wrong secrets from a stranger spend only that stranger's failure budget, never the client's
// (a stranger cannot lock a service out), while the client's own requests are bounded by its
// budget. Both points are taken before the look-up, so parallel requests cannot all slip
// through one check. All users of a public client share its count.
import { createHash } from 'node:crypto';
import type { Middleware } from 'koa';
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Client, KoaContextWithOIDC } from 'oidc-provider';
import { clientAddressKey, setRateLimitHeaders, type RateLimiter, type RateLimitResult } from '../http/rate-limit.js';
import type { RateLimit } from '../config.js';
import { gatehouseMetadataOf } from '../clients/provider-metadata.js';
import type { FeatureDependencies } from './feature.js';
import { CORS_ORIGIN_VERIFIED } from './services.js';
import { currentContext, wrapClientFind } from './provider-internals.js';

type Budget = { limiter: RateLimiter; policy: RateLimit };

export type ClientRateLimiters = {
  token: Budget;
  introspection: Budget;
  /** Failed client authentications per client and address, at both endpoints. */
  authFailure: Budget;
};

class TooManyRequests extends errors.OIDCProviderError {
  constructor(result: RateLimitResult) {
    // RFC 6585 §4; the code is RFC 6749 §4.1.2.1's, the registered one nearest in meaning.
    super(429, 'temporarily_unavailable');
    this.error_description = `too many requests for this client; retry after ${result.resetSeconds} seconds`;
  }
}

/**
 * client_ids are at most 100 characters here; a longer claimed one is hashed into the key. The
 * two forms have prefixes of their own, so no literal client_id shares a hashed one's key.
 */
function clientKey(clientId: string): string {
  return clientId.length <= 128 ? `id:${clientId}` : `sha256:${createHash('sha256').update(clientId).digest('base64url')}`;
}

/** A request let through to authentication: the points it holds until it is answered. */
type Attempt = { route: 'token' | 'introspection'; client: string; failure: string; failureResult: RateLimitResult };
const ATTEMPT = Symbol('clientAuthAttempt');
type AttemptState = { [ATTEMPT]?: Attempt };

function authenticationFailed(ctx: KoaContextWithOIDC): boolean {
  const body = ctx.body as { error?: unknown } | undefined;
  return ctx.status === 401 && body?.error === 'invalid_client';
}

/** Settles each attempt once answered: see the top of this file. */
export function settleAttempts(limiters: ClientRateLimiters): Middleware {
  return async (ctx, next) => {
    let answered = false;
    try {
      await next();
      answered = true;
    } finally {
      await settle(ctx as KoaContextWithOIDC, answered);
    }
  };

  async function settle(ctx: KoaContextWithOIDC, answered: boolean): Promise<void> {
    const attempt = (ctx.state as AttemptState)[ATTEMPT];
    if (!attempt) return;
    if (answered && authenticationFailed(ctx)) {
      await limiters[attempt.route].limiter.refund(attempt.client);
      setRateLimitHeaders(ctx, attempt.failureResult);
    } else {
      await limiters.authFailure.limiter.refund(attempt.failure);
    }
  }
}

type ClientFind = (clientId: string) => Promise<Client | undefined>;

/** Counts the authenticating look-up of each token and introspection request (Client.find). */
export function installClientRateLimits(provider: Provider, limiters: ClientRateLimiters, deps: FeatureDependencies): void {
  wrapClientFind(provider, (find) => countingFind(find, limiters, deps));
}

function countingFind(find: ClientFind, limiters: ClientRateLimiters, { audit, logger }: FeatureDependencies): ClientFind {
  const counted = new WeakSet<object>();

  const refuse = async (ctx: KoaContextWithOIDC, clientId: string, result: RateLimitResult, policy: string, window: number): Promise<never> => {
    setRateLimitHeaders(ctx, result);
    if (result.firstRefusal) {
      audit({
        type: 'rate_limit.exceeded',
        outcome: 'failure',
        clientId: clientId.slice(0, 200),
        ip: ctx.ip,
        details: { policy, route: ctx.oidc.route, limit: result.limit, window_seconds: window },
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

  return async (clientId) => {
    const ctx = currentContext();
    const route = ctx?.oidc.route;
    // Only the first look-up of a request is the authenticating one.
    if (!ctx || (route !== 'token' && route !== 'introspection') || counted.has(ctx)) return find(clientId);
    counted.add(ctx);

    const client = clientKey(clientId);
    const failure = `${clientAddressKey(ctx.ip)} ${client}`;
    const failureResult = await limiters.authFailure.limiter.consume(failure);
    if (!failureResult.allowed) return refuse(ctx, clientId, failureResult, 'client-auth-failure', limiters.authFailure.policy.windowSeconds);

    const { limiter, policy } = limiters[route];
    const result = await limiter.consume(client);
    if (!result.allowed) {
      // Not authenticated at all: the failure point goes back.
      await limiters.authFailure.limiter.refund(failure);
      return refuse(ctx, clientId, result, `${route}-client`, policy.windowSeconds);
    }
    setRateLimitHeaders(ctx, result);
    (ctx.state as AttemptState)[ATTEMPT] = { route, client, failure, failureResult };
    return find(clientId);
  };
}
