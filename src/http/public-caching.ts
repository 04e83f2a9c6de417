// Discovery and the JWKS are the same for every caller (their URLs come from ISSUER alone,
// src/http/issuer-origin.ts), so shared caches may keep them, briefly. A key made by `keys rotate`
// is published by every instance within KEY_REFRESH_INTERVAL and signs after KEY_ACTIVATION_DELAY:
// a cached JWKS must expire in between, or a relying party would meet a kid it has never seen.
import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { GatehouseConfig } from '../config.js';

/** Never longer than this, whatever the activation delay allows. */
const MAX_AGE_CAP_SECONDS = 300;

const CACHEABLE_ROUTES = new Set(['discovery', 'jwks']);

function publicCacheSeconds(config: GatehouseConfig): number {
  const { activationDelaySeconds, refreshIntervalSeconds } = config.keys;
  return Math.max(0, Math.min(MAX_AGE_CAP_SECONDS, activationDelaySeconds - refreshIntervalSeconds));
}

/** The Cache-Control of discovery and the JWKS (also sent by src/http/public-documents.ts). */
export function publicCacheControl(config: GatehouseConfig): string {
  return `public, max-age=${publicCacheSeconds(config)}`;
}

export function publicCaching(config: GatehouseConfig): Middleware {
  const cacheControl = publicCacheControl(config);
  return async (ctx, next) => {
    await next();
    // Decided by the route oidc-provider ran, so every spelling it accepts (/JWKS, /jwks/) counts.
    const route = (ctx as unknown as KoaContextWithOIDC).oidc?.route;
    if (ctx.status === 200 && route && CACHEABLE_ROUTES.has(route)) ctx.set('Cache-Control', cacheControl);
  };
}
