// A stored client read back as its spec (src/clients/metadata.ts, the one shape of a client),
// and the registry's view: the spec as the CLI and the seed show it, plus what the registry
// keeps beside the metadata. Pure functions; the queries live in registry.ts and
// provider-metadata.ts.
import type { Prisma } from '../db/generated/sqlite/client.js';
import {
  applicationTypeOf,
  responseTypesOf,
  type ClientProfile,
  type ClientSpec,
  type ClientType,
  type GrantType,
  type OidcScope,
  type TokenEndpointAuthMethod,
} from './metadata.js';
import { storedJwks, storedStrings } from './stored.js';

/** The columns and relations a spec is read from (both readers include at least these). */
type StoredClient = Prisma.ClientGetPayload<{
  include: { apis: { include: { api: { select: { identifier: true } } } }; defaultApi: { select: { identifier: true } } };
}>;

/** Stored row -> spec. The row was validated when written; the JSON columns are checked again. */
export function specOfRow(row: StoredClient): ClientSpec {
  const where = `client ${row.id}`;
  const grantTypes = storedStrings(row.grantTypes, `grant types of ${where}`) as GrantType[];
  const profile = row.profile as ClientProfile;
  return {
    name: row.name,
    profile,
    type: row.type as ClientType,
    application_type: applicationTypeOf(profile),
    grant_types: grantTypes,
    response_types: responseTypesOf(grantTypes),
    redirect_uris: storedStrings(row.redirectUris, `redirect URIs of ${where}`),
    post_logout_redirect_uris: storedStrings(row.postLogoutRedirectUris, `post-logout redirect URIs of ${where}`),
    cors_origins: storedStrings(row.corsOrigins, `CORS origins of ${where}`),
    apis: row.apis
      .map((grant) => ({ identifier: grant.api.identifier, scopes: storedStrings(grant.scopes, `API scopes of ${where}`) }))
      .sort((a, b) => a.identifier.localeCompare(b.identifier)),
    scope: (row.scope ? row.scope.split(' ') : []) as OidcScope[],
    token_endpoint_auth_method: row.tokenEndpointAuthMethod as TokenEndpointAuthMethod,
    jwks: storedJwks(row.jwks, `JWKS of ${where}`),
    first_party: row.firstParty,
    require_mfa: row.requireMfa,
    default_api: row.defaultApi?.identifier ?? null,
    introspection_signed_response_alg: row.introspectionSignedResponseAlg as ClientSpec['introspection_signed_response_alg'],
    backchannel_logout_uri: row.backchannelLogoutUri,
    backchannel_logout_session_required: row.backchannelLogoutSessionRequired,
  };
}

/** What the registry keeps beside a client's metadata (never a secret or its hash). */
export type ClientRecord = {
  client_id: string;
  disabled: boolean;
  /** When each stored secret was made and when it stops working. */
  client_secrets: { created_at: string; expires_at: string | null }[];
  created_at: string;
  updated_at: string;
};

/** The registry's view: the spec without its derived fields (the name as `client_name`), and the record. */
export type ClientView = Omit<ClientSpec, 'name' | 'application_type' | 'response_types'> & { client_name: string } & ClientRecord;

/** Spec and record -> view. The key order is the order `client show --json` prints. */
export function viewOf(spec: ClientSpec, record: ClientRecord): ClientView {
  return {
    client_id: record.client_id,
    client_name: spec.name,
    profile: spec.profile,
    type: spec.type,
    grant_types: spec.grant_types,
    redirect_uris: spec.redirect_uris,
    post_logout_redirect_uris: spec.post_logout_redirect_uris,
    cors_origins: spec.cors_origins,
    apis: spec.apis,
    scope: spec.scope,
    token_endpoint_auth_method: spec.token_endpoint_auth_method,
    jwks: spec.jwks,
    first_party: spec.first_party,
    require_mfa: spec.require_mfa,
    disabled: record.disabled,
    default_api: spec.default_api,
    introspection_signed_response_alg: spec.introspection_signed_response_alg,
    backchannel_logout_uri: spec.backchannel_logout_uri,
    backchannel_logout_session_required: spec.backchannel_logout_session_required,
    client_secrets: record.client_secrets,
    created_at: record.created_at,
    updated_at: record.updated_at,
  };
}

/** View -> spec (the derived fields derived again): the base of an update, and what a seed compares. */
export function specOfView(view: ClientView): ClientSpec {
  return {
    name: view.client_name,
    profile: view.profile,
    type: view.type,
    application_type: applicationTypeOf(view.profile),
    grant_types: view.grant_types,
    response_types: responseTypesOf(view.grant_types),
    redirect_uris: view.redirect_uris,
    post_logout_redirect_uris: view.post_logout_redirect_uris,
    cors_origins: view.cors_origins,
    apis: view.apis,
    scope: view.scope,
    token_endpoint_auth_method: view.token_endpoint_auth_method,
    jwks: view.jwks,
    first_party: view.first_party,
    require_mfa: view.require_mfa,
    default_api: view.default_api,
    introspection_signed_response_alg: view.introspection_signed_response_alg,
    backchannel_logout_uri: view.backchannel_logout_uri,
    backchannel_logout_session_required: view.backchannel_logout_session_required,
  };
}
