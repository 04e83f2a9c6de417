// Where the forms of the page being answered may lead (CSP form-action, applied by
// src/http/security-headers.ts after the handler ran). A form whose submission ends in a
// redirect to a client widens form-action to that one validated destination.
import type { Context } from 'koa';

const FORM_TARGETS = Symbol('formTargets');
type StateWithTargets = { [FORM_TARGETS]?: Set<string> };

/**
 * The CSP source expression that lets a form on this page lead to `uri` (after redirects):
 * its origin for http(s); its scheme for a native app's private-use scheme (RFC 8252 §7.1).
 * CSP host sources cannot express IPv6 literals, so a [::1] loopback redirect (RFC 8252 §7.3)
 * is allowed by scheme. Null for anything that is not a URL.
 */
export function formActionSource(uri: string): string | null {
  const url = URL.parse(uri);
  if (!url) return null;
  if (url.protocol === 'https:' || url.protocol === 'http:') {
    return url.hostname.startsWith('[') ? url.protocol : url.origin;
  }
  return /^[a-z][a-z0-9+.-]*:$/i.test(url.protocol) ? url.protocol : null;
}

/** Lets forms on the page being answered lead to `uri`, a destination already validated. */
export function allowFormTarget(ctx: Context, uri: string): void {
  const source = formActionSource(uri);
  if (!source) return;
  const state = ctx.state as StateWithTargets;
  (state[FORM_TARGETS] ??= new Set()).add(source);
}

const OWN_SCRIPTS = Symbol('ownScripts');

/** The page being answered loads our scripts from /static and they call back to us (fetch). */
export function allowOwnScripts(ctx: Context): void {
  (ctx.state as { [OWN_SCRIPTS]?: boolean })[OWN_SCRIPTS] = true;
}

export function ownScriptsAllowed(ctx: Context): boolean {
  return (ctx.state as { [OWN_SCRIPTS]?: boolean })[OWN_SCRIPTS] === true;
}

/** The sources allowed so far for the response being built, if any. */
export function formTargetsOf(ctx: Context): ReadonlySet<string> | undefined {
  return (ctx.state as StateWithTargets)[FORM_TARGETS];
}
