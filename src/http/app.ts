// Koa app assembly: our middleware around oidc-provider, mounted at the issuer's path.
import Koa from 'koa';
import compose from 'koa-compose';
import mount from 'koa-mount';
import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { AuditWriter } from '../audit/audit.js';
import type { GatehouseConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { requestMetrics } from './http-metrics.js';
import type { Metrics } from '../metrics/metrics.js';
import { bodyLimit } from './body-limit.js';
import { refuseControlCharacters } from './control-characters.js';
import type { Endpoints } from './endpoints.js';
import { errorBoundary } from './error-boundary.js';
import { healthRoutes } from './health.js';
import { issuerOrigin } from './issuer-origin.js';
import { publicCaching } from './public-caching.js';
import { publicDocuments } from './public-documents.js';
import type { RateLimiter } from './rate-limit.js';
import { requestContext } from './request-context.js';
import { requestRateLimit } from './request-rate-limit.js';
import { refuseRouteMisspellings } from './route-spelling.js';
import { securityHeaders } from './security-headers.js';
import { staticFiles } from './static-files.js';

export type AppDependencies = {
  config: GatehouseConfig;
  /** The provider serving now (it is rebuilt when signing keys change). */
  provider: () => Provider;
  logger: Logger;
  cookieKeys: string[];
  isReady: () => Promise<boolean>;
  /** Our routes (interactions, ...), tried before the provider. */
  routers: Router[];
  endpoints: Endpoints;
  metrics: Metrics;
  audit: AuditWriter;
  /** Every request per client IP address (REQUEST_IP_LIMIT). */
  requestLimiter: RateLimiter;
};

export function createApp(deps: AppDependencies): Koa {
  const app = new Koa();
  // X-Forwarded-* are believed only when an operator says a trusted proxy sets them, and then
  // only the entries those proxies appended: the client's address is the one the outermost
  // trusted proxy saw, never a value the client put in the header itself.
  app.proxy = deps.config.trustProxy;
  app.maxIpsCount = deps.config.trustProxyHops;
  // The provider's routes run on this app's context, so its cookies are signed with these.
  app.keys = deps.cookieKeys;
  app.silent = true;

  app.use(requestContext(deps.logger, deps.config.trustProxy));
  app.use(requestMetrics(deps.metrics, deps.endpoints));
  app.use(errorBoundary(deps.logger, deps.endpoints));
  app.use(securityHeaders(deps.config));
  // After the security headers (HSTS needs the request's own view of its scheme); before anything
  // that answers or builds a URL.
  app.use(issuerOrigin(deps.config, deps.endpoints, deps.logger));
  app.use(
    requestRateLimit({
      limiter: deps.requestLimiter,
      windowSeconds: deps.config.rateLimits['request-ip'].windowSeconds,
      endpoints: deps.endpoints,
      audit: deps.audit,
      logger: deps.logger,
    }),
  );
  // Discovery and the JWKS from kept bytes: counted per address, then nothing else runs.
  app.use(publicDocuments(deps.config, deps.provider));
  // After the request limit, so that refused spellings still count against the address.
  app.use(refuseRouteMisspellings(deps.endpoints));
  app.use(bodyLimit(deps.config.bodyLimitBytes, deps.endpoints));
  app.use(refuseControlCharacters(deps.endpoints));
  app.use(staticFiles());
  app.use(publicCaching(deps.config));
  // Our routes all live outside oidc-provider's paths: a request for one of its routes skips the
  // routers (each tests every one of its routes against the path; nine routers were 3 % of the
  // main thread's time per introspection request).
  const ours = compose<Koa.Context>([healthRoutes(deps.isReady), ...deps.routers].flatMap((router) => [router.routes() as Koa.Middleware, router.allowedMethods() as Koa.Middleware]));
  app.use((ctx, next) => (deps.endpoints.providerRoutes.match(ctx.path) ? next() : ours(ctx, next)));
  const issuerPath = new URL(deps.config.issuer).pathname;
  const mounted = new WeakMap<Provider, Koa.Middleware>();
  app.use((ctx, next) => {
    const provider = deps.provider();
    let middleware = mounted.get(provider);
    if (!middleware) {
      middleware = mount(issuerPath, provider);
      mounted.set(provider, middleware);
    }
    return middleware(ctx, next) as Promise<void>;
  });
  return app;
}
