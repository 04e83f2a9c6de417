// Koa app assembly: our middleware around oidc-provider, mounted at the issuer's path.
import Koa from 'koa';
import mount from 'koa-mount';
import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { GatehouseConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { errorBoundary } from './error-boundary.js';
import { healthRoutes } from './health.js';
import { requestContext } from './request-context.js';
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
};

export function createApp(deps: AppDependencies): Koa {
  const app = new Koa();
  // X-Forwarded-* are believed only when an operator says a trusted proxy sets them.
  app.proxy = deps.config.trustProxy;
  // The provider's routes run on this app's context, so its cookies are signed with these.
  app.keys = deps.cookieKeys;
  app.silent = true;

  app.use(requestContext(deps.logger, deps.config.trustProxy));
  app.use(errorBoundary(deps.logger));
  app.use(securityHeaders(deps.config));
  app.use(staticFiles());
  for (const router of [healthRoutes(deps.isReady), ...deps.routers]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  const issuerPath = new URL(deps.config.issuer).pathname;
  const mounted = new WeakMap<Provider, Koa.Middleware>();
  app.use((ctx, next) => {
    const provider = deps.provider();
    let middleware = mounted.get(provider);
    if (!middleware) {
      middleware = mount(issuerPath, provider.app);
      mounted.set(provider, middleware);
    }
    return middleware(ctx, next);
  });
  return app;
}
