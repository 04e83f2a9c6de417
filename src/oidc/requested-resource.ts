// The `resource` (RFC 8707) a token request names, checked as oidc-provider checks it when it
// issues the access token (lib/helpers/resolve_resource.js, then getResourceServerInfo in
// services.ts), but earlier: oidc-provider consumes the refresh token or authorization code
// first and checks the resource after, so a refused resource used to burn the token or code and
// the client's corrected retry read as reuse or replay (attack classes: side effects before
// validation). Scopes are already checked before consumption by oidc-provider.
import { errors } from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { gatehouseMetadataOf } from '../clients/provider-metadata.js';

/** `token`: the refresh token or authorization code the request presents. */
export function assertRequestedResource(ctx: KoaContextWithOIDC, token: { readonly resourceIndicators: Set<string | undefined> }): void {
  const requested: unknown = ctx.oidc.params?.resource;
  const client = ctx.oidc.client;
  if (!requested || !client) return;
  const { defaultApi, allowedApis } = gatehouseMetadataOf(client);
  // Several values resolve to the default API when it is among them (defaultResource, services.ts).
  const resource = Array.isArray(requested) ? (defaultApi && requested.includes(defaultApi) ? defaultApi : null) : requested;
  if (typeof resource !== 'string') {
    throw new errors.InvalidTarget('only a single resource indicator value must be requested/resolved during Access Token Request');
  }
  if (!token.resourceIndicators.has(resource)) throw new errors.InvalidTarget('resource was not granted to this token');
  if (!allowedApis.has(resource)) throw new errors.InvalidTarget('resource is unknown or not allowed for this client');
}
