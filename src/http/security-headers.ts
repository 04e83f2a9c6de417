// Baseline security headers on every response: no framing (clickjacking), no MIME sniffing, no
// Referer carrying codes or tokens away, HSTS when the issuer is https.
import type { Middleware } from 'koa';
import { issuerIsHttps, type GatehouseConfig } from '../config.js';
import { formTargetsOf, ownScriptsAllowed } from '../pages/form-targets.js';

type Directives = Map<string, string[]>;

/**
 * Our pages load one stylesheet from us and run no script of their own, except pages that
 * use passkeys (WebAuthn needs script): those load scripts from /static, never inline ones,
 * and widen script-src and connect-src to 'self' alone (allowOwnScripts). The policy is set
 * before the request is handled so that oidc-provider's auto-submitting pages (form_post
 * responses, the logout hand-off) can add the hash of their one inline script to script-src,
 * which is how it allows that script and nothing else (its helpers/script_src_sha.js).
 *
 * form-action is 'self' by default. A form whose submission ends in a redirect to a client
 * (login, consent, logout confirmation) widens it to that one destination with
 * allowFormTarget() (src/pages/form-targets.ts): Chromium applies form-action to every redirect that follows a form
 * submission, so 'self' alone would block the final hop to the client's redirect_uri.
 */
const PAGE_DIRECTIVES: ReadonlyArray<[string, string[]]> = [
  ['default-src', ["'none'"]],
  ['script-src', ["'none'"]],
  ['style-src', ["'self'"]],
  ['img-src', ["'self'", 'data:']],
  ['form-action', ["'self'"]],
  ['frame-ancestors', ["'none'"]],
  ['base-uri', ["'none'"]],
];

function parse(header: string): Directives {
  const directives: Directives = new Map();
  for (const part of header.split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) directives.set(name.toLowerCase(), values);
  }
  return directives;
}

function serialize(directives: Directives): string {
  return [...directives].map(([name, values]) => [name, ...values].join(' ')).join('; ');
}

const PAGE_CSP = serialize(new Map(PAGE_DIRECTIVES));

function finalPolicy(current: string, formTargets: ReadonlySet<string> | undefined, ownScripts: boolean): string {
  const directives = parse(current);
  // Scripts from our origin only (files under /static, never inline), talking back to it.
  if (ownScripts) {
    directives.set('script-src', [...new Set([...(directives.get('script-src') ?? []), "'self'"])]);
    directives.set('connect-src', ["'self'"]);
  }
  if (formTargets?.size) directives.set('form-action', [...new Set([...(directives.get('form-action') ?? []), ...formTargets])]);
  // 'none' next to other sources (a script hash added by oidc-provider) is ignored by browsers
  // with a console warning; leave only the sources.
  for (const [name, values] of directives) {
    if (values.length > 1 && values.includes("'none'")) directives.set(name, values.filter((v) => v !== "'none'"));
  }
  return serialize(directives);
}

export function securityHeaders(config: GatehouseConfig): Middleware {
  const https = issuerIsHttps(config);
  return async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
    ctx.set('X-Frame-Options', 'DENY');
    // Only on responses that travel over TLS: a host must not send it over plain http (RFC 6797
    // §7.2). ctx.secure here is the request's own view (src/http/issuer-origin.ts runs later).
    if (https && ctx.secure) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    // Set first: it stays on the error page should the handler throw (error-boundary.ts).
    ctx.set('Content-Security-Policy', PAGE_CSP);
    await next();
    if (ctx.response.is('html')) {
      const current = ctx.response.get('Content-Security-Policy') || PAGE_CSP;
      ctx.set('Content-Security-Policy', finalPolicy(current, formTargetsOf(ctx), ownScriptsAllowed(ctx)));
    } else {
      ctx.remove('Content-Security-Policy');
    }
  };
}
