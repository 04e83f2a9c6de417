// Which endpoint a request is for, before any handler has run: refusals made in front of the
// handlers (rate limits, body limits) answer in that endpoint's own format, and metrics label
// requests by route name, never by raw path (paths carry interaction ids).
import type { Context } from 'koa';
import type Provider from 'oidc-provider';

/** Where oidc-provider sends the browser for a prompt (interactions.url); our routes live below it. */
export const INTERACTION_PATH = '/interaction';

/** OAuth-style JSON (RFC 6749 §5.2) or one of our HTML pages. */
export type ResponseFormat = 'oauth' | 'page';

/** oidc-provider routes answered with JSON to software (clients, resource servers). */
const PROTOCOL_ROUTES = [
  'token',
  'userinfo',
  'introspection',
  'revocation',
  'jwks',
  'discovery',
  'pushed_authorization_request',
  'device_authorization',
  'registration',
  'backchannel_authentication',
  'challenge',
] as const;

/** oidc-provider routes a person's browser is sent to; paths below them too (/auth/:uid). */
const BROWSER_ROUTES = ['authorization', 'end_session', 'code_verification'] as const;

export type Endpoints = {
  /** The route name for metrics: an oidc-provider route, or one of ours; undefined if unknown. */
  routeOf(path: string): string | undefined;
  formatOf(ctx: Context): ResponseFormat;
};

function pathsOf(provider: Provider, names: readonly string[], issuerPath: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const name of names) {
    try {
      paths.set(`${issuerPath}${provider.pathFor(name, { mountPath: '' })}`.replace(/\/\/+/g, '/'), name);
    } catch {
      // the route's feature is not enabled
    }
  }
  return paths;
}

/** Route paths come from configuration, so any provider built from it gives the same map. */
export function endpointsOf(provider: Provider, issuer: string): Endpoints {
  const issuerPath = new URL(issuer).pathname.replace(/\/$/, '');
  const protocol = pathsOf(provider, PROTOCOL_ROUTES, issuerPath);
  const browser = pathsOf(provider, BROWSER_ROUTES, issuerPath);
  const interactions = `${INTERACTION_PATH}/`;

  const browserRoute = (path: string): string | undefined => {
    for (const [prefix, name] of browser) if (path === prefix || path.startsWith(`${prefix}/`)) return name;
    return path.startsWith(interactions) ? 'interaction' : undefined;
  };

  return {
    routeOf: (path) => protocol.get(path) ?? browserRoute(path),
    formatOf(ctx) {
      if (protocol.has(ctx.path)) return 'oauth';
      if (browserRoute(ctx.path)) return 'page';
      return ctx.accepts('json', 'html') === 'html' ? 'page' : 'oauth';
    },
  };
}
