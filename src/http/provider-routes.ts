// Which oidc-provider route a request path will run, matched the way oidc-provider's router
// matches it (node_modules/oidc-provider/lib/helpers/router.js): static segments compared after
// upper-casing, and a path that matches nothing tried again without one trailing slash. So
// `/DEVICE` and `/device/` run `code_verification` just as `/device` does. A guard that compares
// the path to one string would miss those spellings; instead, every spelling other than the
// canonical one is refused before the provider (route-spelling.ts), and labels and response
// formats are decided by the route (endpoints.ts).
import type Provider from 'oidc-provider';

/** Names oidc-provider registers its routes under (lib/helpers/initialize_app.js). */
const STATIC_ROUTES = [
  'authorization',
  'userinfo',
  'token',
  'jwks',
  'discovery',
  'registration',
  'revocation',
  'introspection',
  'end_session',
  'end_session_confirm',
  'end_session_success',
  'device_authorization',
  'code_verification',
  'pushed_authorization_request',
  'backchannel_authentication',
  'challenge',
  'credential',
] as const;

/** Routes with a parameter, and the parameter's name. */
const DYNAMIC_ROUTES = [
  ['resume', 'uid'],
  ['device_resume', 'uid'],
  ['client', 'clientId'],
] as const;

/** Registered by fixed path; `pathFor('discovery')` names only the first of them. */
const FIXED_ROUTES = [
  ['discovery', '/.well-known/openid-configuration'],
  ['discovery', '/.well-known/oauth-authorization-server'],
] as const;

/** Stands for a route parameter while the route's path is read from the provider. */
const PARAMETER = 'gatehouse-route-parameter';

/** The router's case folding, character for character (lib/helpers/router.js `fold`). */
function fold(value: string): string {
  let ascii = true;
  for (let i = 0; i < value.length && ascii; i++) ascii = value.charCodeAt(i) <= 127;
  if (ascii) return value.toUpperCase();
  let out = '';
  for (const char of value) {
    const upper = char.toUpperCase();
    out += upper.length === 1 && !(char.codePointAt(0)! > 127 && upper.codePointAt(0)! < 128) ? upper : char;
  }
  return out;
}

/** A route's path as segments: a string is matched after folding, null is a parameter. */
type Template = { name: string; segments: (string | null)[] };

type ProviderRoute = {
  /** oidc-provider's route name (ctx.oidc.route once it runs). */
  name: string;
  /** The request's path as the route is spelled: the one spelling let through to the provider. */
  canonicalPath: string;
};

export type ProviderRoutes = {
  /** The route a request path (from the server root, issuer path included) will run, if any. */
  match(path: string): ProviderRoute | undefined;
};

function templatesOf(provider: Provider, basePath: string): Template[] {
  const templates: Template[] = [];
  const add = (name: string, path: string) => {
    const segments = `${basePath}${path}`.replace(/\/\/+/g, '/').split('/');
    templates.push({ name, segments: segments.map((s) => (s === PARAMETER ? null : s)) });
  };
  const pathOf = (name: string, params: Record<string, string> = {}): string | undefined => {
    try {
      return provider.pathFor(name, { mountPath: '', ...params });
    } catch {
      return undefined; // the route's feature is not enabled
    }
  };
  for (const name of STATIC_ROUTES) {
    const path = pathOf(name);
    if (path) add(name, path);
  }
  // Discovery is always on (lib/helpers/initialize_app.js registers both documents).
  for (const [name, path] of FIXED_ROUTES) add(name, path);
  // After every static route, as the router tries them: `/device/auth` is not `/device/:uid`.
  for (const [name, parameter] of DYNAMIC_ROUTES) {
    const path = pathOf(name, { [parameter]: PARAMETER });
    if (path) add(name, path);
  }
  return templates;
}

/**
 * Route paths come from configuration, so any provider built from it gives the same routes.
 * `issuer`'s path is where the provider is mounted (src/http/app.ts); koa-mount compares it as
 * spelled, so it is matched exactly here too.
 */
export function providerRoutesOf(provider: Provider, issuer: string): ProviderRoutes {
  const basePath = new URL(issuer).pathname.replace(/\/$/, '');
  const templates = templatesOf(provider, basePath).map((t) => ({
    ...t,
    folded: t.segments.map((s) => (s === null ? null : fold(s))),
    prefixSegments: basePath ? basePath.split('/').length : 0,
  }));

  const lookup = (path: string): ProviderRoute | undefined => {
    const parts = path.split('/');
    const folded = fold(path).split('/');
    for (const t of templates) {
      if (t.segments.length !== parts.length) continue;
      let matched = true;
      for (let i = 0; i < parts.length && matched; i++) {
        const expected = t.folded[i];
        if (expected === null) matched = parts[i] !== '';
        else if (i < t.prefixSegments) matched = parts[i] === t.segments[i];
        else matched = folded[i] === expected;
      }
      if (matched) return { name: t.name, canonicalPath: t.segments.map((s, i) => s ?? parts[i]).join('/') };
    }
    return undefined;
  };

  return {
    match(path) {
      const exact = lookup(path);
      if (exact) return exact;
      return path.length > 1 && path.endsWith('/') ? lookup(path.slice(0, -1)) : undefined;
    },
  };
}
