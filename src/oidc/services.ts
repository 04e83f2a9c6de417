// Service-to-service wiring: resource indicators with JWT access tokens, client credentials,
// introspection, revocation, client authentication against hashed secrets, per-client CORS, and
// the audit events of the token endpoint. Sign-in policy (accounts, claims, consent) lives in
// sign-in.ts; refresh-token policy in refresh-tokens.ts.
//
// Access tokens for an API (RFC 8707 resource) are RS256 JWTs per RFC 9068: header typ at+jwt;
// claims iss, sub (the client for client credentials, RFC 9068 §2.2), aud (the API identifier),
// client_id, scope, iat, exp, jti, and gid (the grant) for a person's token. They are never
// stored; resource servers validate them locally against the JWKS (RFC 9068 §4), or introspect
// them, which also sees revocation, a disabled client or user and a revoked grant
// (src/oidc/jwt-access-tokens.ts answers both endpoints for them). Refresh tokens and opaque
// access tokens (those without an API, e.g. for userinfo) are stored, and can be introspected
// (RFC 7662) and revoked (RFC 7009) by oidc-provider.
import type { Middleware } from 'koa';
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { Client, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { registeredCorsOrigins } from '../clients/registry.js';
import { cachedClientSecretCheck } from '../clients/client-cache.js';
import { AUTH_METHODS } from '../clients/metadata.js';
import { EXTRA_CLIENT_METADATA, extraClientMetadataSchemas, gatehouseMetadataOf, type ExtraClientMetadataKey } from '../clients/provider-metadata.js';
import type { AuditEvent } from '../audit/audit.js';
import type { FeatureDependencies } from './feature.js';
import { replaceClientSecretCheck } from './provider-internals.js';

/** RFC 7523 §3 lets us refuse assertions that expire "unreasonably far in the future". */
const MAX_CLIENT_ASSERTION_LIFETIME_SECONDS = 300;

const CLIENT_CREDENTIALS = 'client_credentials';

function isClientCredentials(ctx: KoaContextWithOIDC): boolean {
  return ctx.oidc.route === 'token' && ctx.oidc.params?.grant_type === CLIENT_CREDENTIALS;
}

function requestedResources(ctx: KoaContextWithOIDC): string[] {
  const resource = ctx.oidc.params?.resource;
  if (typeof resource === 'string') return [resource];
  return Array.isArray(resource) ? resource.filter((r): r is string => typeof r === 'string') : [];
}

/**
 * Scopes requested alongside a resource must be ones the client is allowed for it, or the
 * request fails with invalid_scope (RFC 6749 §5.2, §4.1.2.1) rather than quietly returning less.
 * Client credentials: every scope must belong to the one API the token is for. Flows that sign a
 * person in: each scope must be an OpenID Connect scope (checked by oidc-provider against the
 * client's `scope`) or allowed for one of the requested APIs. Refresh and code exchanges are
 * already bounded by their grant (RFC 6749 §6) and are left to oidc-provider.
 */
function assertRequestedScopes(ctx: KoaContextWithOIDC, client: Client, resource: string): void {
  if (ctx.oidc.route === 'token' && !isClientCredentials(ctx)) return;
  const { allowedApis } = gatehouseMetadataOf(client);
  const requested = [...ctx.oidc.requestParamScopes].filter(Boolean);
  if (isClientCredentials(ctx)) {
    const allowed = new Set(allowedApis.get(resource)?.scopes);
    for (const scope of requested) {
      if (!allowed.has(scope)) throw new errors.InvalidScope('requested scope is not allowed for this client and resource', scope);
    }
    return;
  }
  const oidcScopes = ctx.oidc.requestParamOIDCScopes;
  const allowed = new Set([...requestedResources(ctx), resource].flatMap((r) => allowedApis.get(r)?.scopes ?? []));
  for (const scope of requested) {
    if (!oidcScopes.has(scope) && !allowed.has(scope)) {
      throw new errors.InvalidScope('requested scope is not allowed for this client and resource', scope);
    }
  }
}

/** A client asked to revoke a token issued to another client; written without delaying the answer. */
export function auditForeignRevocation(
  ctx: KoaContextWithOIDC,
  { audit, logger }: FeatureDependencies,
  client: Client,
  token: { kind: string; clientId?: string | undefined; accountId?: string | undefined },
): void {
  audit({
    type: 'revocation.refused',
    outcome: 'failure',
    subject: token.accountId ?? null,
    clientId: client.clientId,
    ip: ctx.ip,
    details: { reason: 'token issued to another client', token_type: token.kind, token_client_id: token.clientId ?? null },
  }).catch((err: unknown) => logger.error({ err }, 'audit failed'));
}

/** RFC 7662 §4's authorization: the token's own client, or the resource server of its audience. */
export function mayIntrospect(client: Client, token: { clientId?: string | undefined; aud?: string | string[] | undefined }): boolean {
  if (token.clientId === client.clientId) return true;
  const api = gatehouseMetadataOf(client).resourceServerApi;
  if (api === undefined) return false;
  const audiences = Array.isArray(token.aud) ? token.aud : token.aud ? [token.aud] : [];
  return audiences.includes(api);
}

/** useGrantedResource below; also read by requested-resource.ts, which resolves a resource the same way. */
export function usesGrantedResource(client: Client, model: { scope?: string | undefined; resource?: string | string[] | undefined }): boolean {
  const { allowedApis } = gatehouseMetadataOf(client);
  const granted = new Set((model.scope ?? '').split(' '));
  const resources = Array.isArray(model.resource) ? model.resource : model.resource ? [model.resource] : [];
  return resources.some((r: string) => allowedApis.get(r)?.scopes.some((s) => granted.has(s)) ?? false);
}

function tokenLifetime(defaultSeconds: number) {
  return (_ctx: KoaContextWithOIDC, token: { resourceServer?: { accessTokenTTL?: number | undefined } | undefined }) =>
    token.resourceServer?.accessTokenTTL ?? defaultSeconds;
}

export function servicesConfiguration(deps: FeatureDependencies): Partial<Configuration> {
  const { config } = deps;
  return {
    // client_secret_jwt is left out (src/clients/metadata.ts): secrets are stored hashed and cannot key an HMAC.
    clientAuthMethods: [...AUTH_METHODS],
    // RFC 9700 §2.1 / OAuth 2.1: redirect_uri is always sent and always matched exactly.
    allowOmittingSingleRegisteredRedirectUri: false,
    extraClientMetadata: {
      properties: [...EXTRA_CLIENT_METADATA],
      validator: (_ctx, key, value) => {
        const schema = extraClientMetadataSchemas[key as ExtraClientMetadataKey];
        if (!schema) return;
        if (!schema.safeParse(value).success) throw new errors.InvalidClientMetadata(`${key} is malformed`);
      },
    },
    // Registered origins only, never a wildcard: no other site's scripts may read these answers.
    clientBasedCORS: (_ctx, origin, client) => gatehouseMetadataOf(client).corsOrigins.includes(origin),
    async assertJwtClientAuthClaimsAndHeader(_ctx, claims) {
      const now = Math.floor(Date.now() / 1000);
      if (typeof claims.exp === 'number' && claims.exp - now > MAX_CLIENT_ASSERTION_LIFETIME_SECONDS) {
        throw new errors.InvalidClientAuth(`client assertion must expire within ${MAX_CLIENT_ASSERTION_LIFETIME_SECONDS} seconds`);
      }
    },
    features: {
      clientCredentials: { enabled: true },
      // RFC 9701: a client registered with introspection_signed_response_alg that sends
      // Accept: application/token-introspection+jwt gets the answer as a JWT we sign.
      jwtIntrospection: { enabled: true },
      introspection: {
        enabled: true,
        // RFC 7662 §4: a client learns about its own tokens, and a resource-server client about
        // tokens for its API (src/clients/metadata.ts); anything else reads as inactive (§2.2),
        // so the endpoint cannot be used to probe other clients' tokens.
        allowedPolicy: async (_ctx, client, token) => mayIntrospect(client, token),
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: only the client a token was issued to may revoke it. Any other client
        // gets what an unknown or already revoked token gets (200, RFC 7009 §2.2) and nothing is
        // revoked: an error here told a client whether another client's token is live (attack
        // classes: oracles). The refusal is audited instead.
        allowedPolicy: async (ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          auditForeignRevocation(ctx, deps, client, token);
          return false;
        },
      },
      resourceIndicators: {
        enabled: true,
        // No `resource` parameter: the client's default API, if it has one (RFC 8707 §2 leaves
        // the default to the server). Client credentials without either is refused: a token
        // with no audience would be accepted by any API that forgets to check.
        defaultResource: async (ctx, client, oneOf) => {
          const { defaultApi, allowedApis } = gatehouseMetadataOf(client);
          if (oneOf) return defaultApi && oneOf.includes(defaultApi) ? defaultApi : oneOf;
          if (defaultApi && allowedApis.has(defaultApi)) return defaultApi;
          if (isClientCredentials(ctx)) {
            throw new errors.InvalidTarget('a resource parameter is required: this client has no default API');
          }
          return undefined;
        },
        // Works for every grant (client credentials, authorization code, device, refresh): the
        // client's registered APIs are the only resources it may name (RFC 8707 §2: invalid_target).
        getResourceServerInfo: async (ctx, resourceIndicator, client) => {
          const api = gatehouseMetadataOf(client).allowedApis.get(resourceIndicator);
          if (!api) throw new errors.InvalidTarget('resource is unknown or not allowed for this client');
          assertRequestedScopes(ctx, client, resourceIndicator);
          return {
            audience: resourceIndicator,
            scope: api.scopes.join(' '),
            accessTokenTTL: api.access_token_ttl,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
        // At the token endpoint without `resource`: the granted API when the person granted the
        // app scopes of it; otherwise (a sign-in only) the access token is for userinfo.
        useGrantedResource: async (ctx, model) => (ctx.oidc.client ? usesGrantedResource(ctx.oidc.client, model) : false),
      },
    },
    ttl: {
      // Per-API lifetime for JWT access tokens; the configured default for the rest.
      AccessToken: tokenLifetime(config.ttl.accessToken),
      ClientCredentials: tokenLifetime(config.ttl.accessToken),
    },
  };
}

// ---------------------------------------------------------------------------
// Hooks on the constructed provider
// ---------------------------------------------------------------------------

/**
 * Set on a request refused before oidc-provider assigned its client (a per-client rate limit,
 * src/oidc/client-rate-limits.ts) once the named client is known to have registered the origin.
 */
export const CORS_ORIGIN_VERIFIED = Symbol('corsOriginVerified');
type CorsState = { [CORS_ORIGIN_VERIFIED]?: boolean };

const RATE_LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Retry-After'];

/** Endpoints whose CORS answer depends on the calling client. */
const CLIENT_CORS_ROUTES = ['token', 'introspection', 'revocation', 'userinfo', 'pushed_authorization_request', 'device_authorization'] as const;

/**
 * oidc-provider answers every CORS preflight with the caller's origin, because a preflight names
 * no client. Here a preflight is answered only for an origin that some enabled client registered;
 * the actual request is then checked against that one client's origins (clientBasedCORS). No
 * cache: a preflight is one small query, and browsers cache the answer (Access-Control-Max-Age).
 *
 * oidc-provider also sets the caller's origin on the actual request before it knows the client,
 * and only checks it once a client is assigned. An answer given before that (unknown client,
 * invalid token, a rate limit) would carry an origin nobody registered; it loses it here.
 */
export function preflightFilter(provider: Provider, deps: FeatureDependencies): Middleware {
  const paths = new Set<string>();
  for (const route of CLIENT_CORS_ROUTES) {
    try {
      paths.add(provider.pathFor(route, { mountPath: '' }));
    } catch {
      // route not enabled
    }
  }
  return async (ctx, next) => {
    // Other spellings of these paths (`/TOKEN`, `/token/`) never get here: src/http/route-spelling.ts.
    if (!paths.has(ctx.path)) return next() as Promise<void>;
    const origin = ctx.get('Origin');
    if (!origin) {
      // Not a CORS request (browsers always send Origin on one). oidc-provider would still send
      // `Access-Control-Allow-Origin: *`; a credentialed endpoint has no use for a wildcard.
      await next();
      if (ctx.response.get('Access-Control-Allow-Origin') === '*') ctx.remove('Access-Control-Allow-Origin');
      return;
    }
    if (ctx.method !== 'OPTIONS') {
      await next();
      const verified = Boolean((ctx as KoaContextWithOIDC).oidc?.client) || (ctx.state as CorsState)[CORS_ORIGIN_VERIFIED] === true;
      if (!verified) {
        ctx.remove('Access-Control-Allow-Origin');
        ctx.remove('Access-Control-Expose-Headers');
      } else if (ctx.response.get('Access-Control-Allow-Origin')) {
        // A browser app may read its rate-limit budget (src/http/rate-limit.ts).
        const exposed = ctx.response.get('Access-Control-Expose-Headers');
        ctx.set('Access-Control-Expose-Headers', [exposed, ...RATE_LIMIT_HEADERS].filter(Boolean).join(', '));
      }
      return;
    }
    if (!ctx.get('Access-Control-Request-Method')) return next() as Promise<void>;
    ctx.vary('Origin');
    if ((await registeredCorsOrigins(deps.prisma)).has(origin)) return next() as Promise<void>;
    ctx.status = 403;
    ctx.body = '';
  };
}

const bounded = (value: string, max = 200): string => (value.length > max ? `${value.slice(0, max)}…` : value);

/** The client_id a failed authentication claimed, for the audit trail (never the credential). */
function claimedClientId(ctx: KoaContextWithOIDC): string | null {
  if (ctx.oidc.client) return ctx.oidc.client.clientId;
  const fromParams = ctx.oidc.params?.client_id;
  if (typeof fromParams === 'string' && fromParams) return bounded(fromParams);
  const authorization = ctx.get('Authorization');
  if (/^basic /i.test(authorization)) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      try {
        return bounded(decodeURIComponent(decoded.slice(0, colon)));
      } catch {
        return null;
      }
    }
  }
  return null;
}

function audienceOf(aud: string | string[] | undefined): string | string[] | null {
  if (aud === undefined) return null;
  return aud;
}

/** Hooks that need the constructed provider: client authentication, audit. The CORS preflight filter is middleware (src/features.ts). */
export function installServices(provider: Provider, deps: FeatureDependencies): void {
  const { prisma, audit, logger } = deps;

  // oidc-provider would compare secrets in plaintext. Ours checks the presented secret against
  // the stored SHA-256 hashes of the client's unexpired secrets (secrets.ts explains the choice
  // of hash). Successful checks are remembered for CLIENT_CACHE_TTL (src/clients/client-cache.ts).
  replaceClientSecretCheck(provider, cachedClientSecretCheck(prisma, deps.config.clientCacheTtlSeconds));

  const record = (event: AuditEvent) => {
    audit(event).catch((err: unknown) => logger.error({ err, auditType: event.type }, 'audit failed'));
  };

  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const { entities } = ctx.oidc;
    const token = entities.ClientCredentials ?? entities.AccessToken;
    record({
      type: 'token.issued',
      outcome: 'success',
      subject: entities.AccessToken?.accountId ?? null,
      clientId: ctx.oidc.client?.clientId ?? null,
      ip: ctx.ip,
      details: {
        grant_type: typeof ctx.oidc.params?.grant_type === 'string' ? ctx.oidc.params.grant_type : '',
        api: audienceOf(token?.aud),
        scope: token?.scope ?? null,
      },
    });
  });

  // Every endpoint that authenticates clients (RFC 6749 §2.3) reports failures the same way.
  const onClientAuthFailure = (ctx: KoaContextWithOIDC, error: errors.OIDCProviderError) => {
    if (error.error !== 'invalid_client') return;
    record({
      type: 'client.auth_failed',
      outcome: 'failure',
      clientId: claimedClientId(ctx),
      ip: ctx.ip,
      details: {
        endpoint: ctx.oidc.route,
        reason: bounded(String(error.error_detail ?? error.error_description ?? error.error)),
      },
    });
  };
  provider.on('grant.error', onClientAuthFailure);
  provider.on('introspection.error', onClientAuthFailure);
  provider.on('revocation.error', onClientAuthFailure);
  provider.on('pushed_authorization_request.error', onClientAuthFailure);
  provider.on('device_authorization.error', onClientAuthFailure);
}
