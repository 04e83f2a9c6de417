// Clients as oidc-provider sees them: the client's spec (src/clients/metadata.ts, read from its
// registry row by client-view.ts) mapped to client metadata (RFC 7591 §2 names),
// plus Gatehouse's own metadata (`extraClientMetadata`, declared in src/oidc/services.ts):
//   cors_origins   origins allowed to call token/introspection/revocation from a browser
//   allowed_apis   { [api identifier]: { scopes, access_token_ttl } } the client may get tokens for
//   default_api    the API used when a request names no `resource`
//   first_party    the operator's own app (consent policy may use it)
//   resource_server_api  for a resource-server client, the API whose tokens it may introspect
//
// Caching: oidc-provider calls this on every request that names a client (the token endpoint is
// the hot path). gatehouse.ts wraps it in a per-process cache with a stated bound,
// CLIENT_CACHE_TTL (src/clients/client-cache.ts): "disable this client" or "remove this API
// permission" takes effect on every instance within that time. oidc-provider itself memoises the
// constructed Client object by a hash of this metadata, so schema validation is not repeated
// while nothing changes.
import { randomBytes } from 'node:crypto';
import type { AdapterPayload, Client } from 'oidc-provider';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import type { ClientLookup } from '../db/oidc-adapter.js';
import { specOfRow } from './client-view.js';
import { needsClientSecret, type ClientSpec } from './metadata.js';
import { storedStrings } from './stored.js';

export const EXTRA_CLIENT_METADATA = ['cors_origins', 'allowed_apis', 'default_api', 'first_party', 'resource_server_api'] as const;
export type ExtraClientMetadataKey = (typeof EXTRA_CLIENT_METADATA)[number];

const allowedApiSchema = z.strictObject({
  scopes: z.array(z.string()),
  access_token_ttl: z.number().int().positive(),
});

/** How each extra property must look once it reaches oidc-provider (validated there too). */
export const extraClientMetadataSchemas = {
  cors_origins: z.array(z.string()),
  allowed_apis: z.record(z.string(), allowedApiSchema),
  default_api: z.string().optional(),
  first_party: z.boolean(),
  resource_server_api: z.string().optional(),
} satisfies Record<ExtraClientMetadataKey, z.ZodType>;

type AllowedApi = z.infer<typeof allowedApiSchema>;

export type GatehouseClientMetadata = {
  corsOrigins: readonly string[];
  allowedApis: ReadonlyMap<string, AllowedApi>;
  defaultApi: string | undefined;
  firstParty: boolean;
  /** The API a resource-server client stands for; undefined for every other client. */
  resourceServerApi: string | undefined;
};

const extrasSchema = z.object({
  cors_origins: extraClientMetadataSchemas.cors_origins.default([]),
  allowed_apis: extraClientMetadataSchemas.allowed_apis.default({}),
  default_api: extraClientMetadataSchemas.default_api,
  first_party: extraClientMetadataSchemas.first_party.default(false),
  resource_server_api: extraClientMetadataSchemas.resource_server_api,
});

const extrasCache = new WeakMap<Client, GatehouseClientMetadata>();

/** Gatehouse's metadata of a client that oidc-provider constructed from this lookup. */
export function gatehouseMetadataOf(client: Client): GatehouseClientMetadata {
  const cached = extrasCache.get(client);
  if (cached) return cached;
  const raw = client as unknown as Record<ExtraClientMetadataKey, unknown>;
  const extras = extrasSchema.parse({
    cors_origins: raw.cors_origins,
    allowed_apis: raw.allowed_apis,
    default_api: raw.default_api,
    first_party: raw.first_party,
    resource_server_api: raw.resource_server_api,
  });
  const metadata: GatehouseClientMetadata = {
    corsOrigins: extras.cors_origins,
    allowedApis: new Map(Object.entries(extras.allowed_apis)),
    defaultApi: extras.default_api,
    firstParty: extras.first_party,
    resourceServerApi: extras.resource_server_api,
  };
  extrasCache.set(client, metadata);
  return metadata;
}

/** What the registry knows of each API a client names: the scopes it still offers, its token lifetime. */
type ApiOffer = { scopes: ReadonlySet<string>; accessTokenTtl: number };

/**
 * Spec -> oidc-provider client metadata. `clientSecret` stands in for the secret oidc-provider's
 * schema requires of secret-based methods (see clientMetadataLookup).
 */
function providerMetadataOf(clientId: string, spec: ClientSpec, offers: ReadonlyMap<string, ApiOffer>, clientSecret: string): AdapterPayload {
  const allowedApis: Record<string, AllowedApi> = {};
  for (const grant of spec.apis) {
    const offer = offers.get(grant.identifier)!;
    // A client keeps only scopes the API still offers.
    allowedApis[grant.identifier] = { scopes: grant.scopes.filter((s) => offer.scopes.has(s)), access_token_ttl: offer.accessTokenTtl };
  }
  const method = spec.token_endpoint_auth_method;
  return {
    client_id: clientId,
    client_name: spec.name,
    application_type: spec.application_type,
    grant_types: spec.grant_types,
    response_types: spec.response_types,
    redirect_uris: spec.redirect_uris,
    post_logout_redirect_uris: spec.post_logout_redirect_uris,
    token_endpoint_auth_method: method,
    // oidc-provider refuses an empty string; a client without OpenID Connect scopes (a
    // service) has none to allow, and its API scopes are checked in services.ts.
    ...(spec.scope.length ? { scope: spec.scope.join(' ') } : {}),
    id_token_signed_response_alg: 'RS256',
    cors_origins: spec.cors_origins,
    allowed_apis: allowedApis,
    first_party: spec.first_party,
    // A resource server's default_api is the API it stands for, never a default for tokens.
    ...(spec.default_api !== null ? (spec.profile === 'resource-server' ? { resource_server_api: spec.default_api } : { default_api: spec.default_api }) : {}),
    ...(needsClientSecret(method) ? { client_secret: clientSecret } : {}),
    ...(method === 'private_key_jwt' && spec.jwks ? { jwks: spec.jwks } : {}),
    ...(spec.introspection_signed_response_alg ? { introspection_signed_response_alg: spec.introspection_signed_response_alg } : {}),
    // Sent through the outbox, not by oidc-provider (src/backchannel-logout/feature.ts).
    ...(spec.backchannel_logout_uri !== null
      ? { backchannel_logout_uri: spec.backchannel_logout_uri, backchannel_logout_session_required: spec.backchannel_logout_session_required }
      : {}),
  };
}

/**
 * Returns oidc-provider client metadata for an enabled client, or undefined for an unknown or
 * disabled one (which oidc-provider answers with invalid_client, RFC 6749 §5.2).
 */
export function clientMetadataLookup(prisma: Db): ClientLookup {
  // oidc-provider's schema requires a client_secret for secret-based methods, but never reads it:
  // services.ts replaces compareClientSecret with a check against the stored hashes. Should that
  // hook ever be missing, the built-in comparison meets a random value no one knows, not a
  // constant or a hash.
  const unusableSecret = `unusable-${randomBytes(32).toString('base64url')}`;

  return async (clientId) => {
    if (clientId.length > 200) return undefined;
    const row = await prisma.client.findUnique({
      where: { id: clientId },
      include: { apis: { include: { api: true } }, defaultApi: { select: { identifier: true } } },
    });
    if (!row || row.disabled) return undefined;
    const offers = new Map(
      row.apis.map(({ api }) => [
        api.identifier,
        { scopes: new Set(storedStrings(api.scopes, `scopes of API ${api.identifier}`)), accessTokenTtl: api.accessTokenTtl },
      ]),
    );
    return providerMetadataOf(row.id, specOfRow(row), offers, unusableSecret);
  };
}
