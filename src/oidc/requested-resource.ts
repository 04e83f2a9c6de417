// The resource (RFC 8707) a token request resolves to, checked as oidc-provider checks it when it
// issues the access token (resolve_resource, see provider-internals.ts, then getResourceServerInfo in
// services.ts), but earlier: oidc-provider consumes the refresh token or authorization code
// first and resolves the resource after, so a refused resource used to burn the token or code
// and the client's corrected retry read as reuse or replay (attack classes: side effects before
// validation). Scopes are already checked before consumption by oidc-provider.
import { errors } from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { gatehouseMetadataOf } from '../clients/provider-metadata.js';
import { usesGrantedResource } from './services.js';
import { PROVIDER_ERROR_DETAILS } from './provider-internals.js';

/** The refresh token or authorization code a request presents. */
export type PresentedToken = {
  readonly resourceIndicators: Set<string | undefined>;
  readonly scopes: Set<string>;
  resource?: string | string[] | undefined;
  scope?: string | undefined;
};

const SINGLE = PROVIDER_ERROR_DETAILS.singleResourceRequired;

export function assertRequestedResource(ctx: KoaContextWithOIDC, token: PresentedToken): void {
  const client = ctx.oidc.client;
  if (!client) return;
  const { defaultApi, allowedApis } = gatehouseMetadataOf(client);
  const requested: unknown = ctx.oidc.params?.resource;
  // Several values resolve to the default API when it is among them (defaultResource, services.ts).
  const single = (values: string[]): string | null => (defaultApi && values.includes(defaultApi) ? defaultApi : null);

  if (!requested) {
    // No resource named: the token's own resources apply when the person granted scopes of one
    // of them, or when the request is not for userinfo (no openid); several must resolve to one.
    const own = Array.isArray(token.resource) ? token.resource : [];
    if (own.length === 0 || single(own)) return;
    const scopes = ctx.oidc.params?.scope ? ctx.oidc.requestParamScopes : token.scopes;
    if (usesGrantedResource(client, token) || !scopes.has('openid')) throw new errors.InvalidTarget(SINGLE);
    return;
  }
  const resource = Array.isArray(requested) ? single(requested as string[]) : requested;
  if (typeof resource !== 'string') throw new errors.InvalidTarget(SINGLE);
  if (!token.resourceIndicators.has(resource)) throw new errors.InvalidTarget('resource was not granted to this token');
  if (!allowedApis.has(resource)) throw new errors.InvalidTarget('resource is unknown or not allowed for this client');
}
