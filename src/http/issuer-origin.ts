// The origin of every URL Gatehouse publishes or renders is the issuer's. oidc-provider builds
// discovery's endpoints, the device flow's verification_uri, form actions and redirects from the
// request's own view of where it was sent (Koa's ctx.href: the Host header, X-Forwarded-Host and
// -Proto when TRUST_PROXY is on, or an absolute-form request target, RFC 9112 §3.2.2). Any of
// those can be forged, and a shared cache would hand the forged document to everyone. So from
// here on the request's host and scheme read as the issuer's, whatever the request said.
//
// With an https issuer, a request this server cannot see as secure (no TLS on the socket, and no
// X-Forwarded-Proto: https from a trusted proxy) is refused: it would be handed Secure cookies it
// cannot carry (a 500 from the cookie library) and endpoints on a scheme nobody should use.
import type { Middleware } from 'koa';
import { issuerIsHttps, type GatehouseConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { Endpoints } from './endpoints.js';
import { sendProblem, type Problem } from './problem.js';

/** Load balancers probe instances directly, over plain http. */
const PLAIN_HTTP_ALLOWED = new Set(['/healthz', '/readyz']);

const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\//i;

function insecureRequest(issuer: string): Problem {
  return {
    status: 400,
    error: 'invalid_request',
    description: `this server's issuer is ${issuer}: requests must arrive over https`,
    page: { title: 'Use a secure connection', message: `This service is only available over https, at ${issuer}.` },
  };
}

function plainHttpAdvice(trustProxy: boolean): string {
  return trustProxy
    ? 'TRUST_PROXY is on but a request came without X-Forwarded-Proto: https although ISSUER is https: only the TLS-terminating proxy may reach Gatehouse, and it must set X-Forwarded-Proto (refused with 400)'
    : 'a request arrived over plain http although ISSUER is https: behind a TLS-terminating proxy that sets X-Forwarded-For and X-Forwarded-Proto, set TRUST_PROXY=true (refused with 400)';
}

function pathAndQuery(absolute: string): string {
  const url = URL.parse(absolute);
  return url ? `${url.pathname}${url.search}` : '/';
}

export function issuerOrigin(config: GatehouseConfig, endpoints: Endpoints, logger: Logger): Middleware {
  const issuer = new URL(config.issuer);
  const https = issuerIsHttps(config);
  const protocol = issuer.protocol.slice(0, -1);
  let warned = false;
  return async (ctx, next) => {
    if (https && !ctx.secure && !PLAIN_HTTP_ALLOWED.has(ctx.path)) {
      // Once per process: a misconfigured proxy would otherwise write this on every request.
      if (!warned) {
        warned = true;
        logger.warn({ issuer: config.issuer, trustProxy: config.trustProxy }, plainHttpAdvice(config.trustProxy));
      }
      sendProblem(ctx, endpoints.formatOf(ctx), insecureRequest(config.issuer));
      return;
    }
    // Only the path and query of the request target are the request's own.
    const target = ABSOLUTE_FORM.test(ctx.originalUrl) ? pathAndQuery(ctx.originalUrl) : ctx.originalUrl;
    // Own properties on this request's object shadow Koa's getters (which read the headers).
    Object.defineProperties(ctx.request, {
      protocol: { value: protocol },
      host: { value: issuer.host },
      hostname: { value: issuer.hostname },
      href: { value: `${issuer.origin}${target}` },
      // Koa's own getter answers an empty object for a target it cannot parse.
      URL: { get: (): URL => URL.parse(`${issuer.origin}${target}`) ?? (Object.create(null) as URL) },
    });
    await next();
  };
}
