// Introspection (RFC 7662) and revocation (RFC 7009) of the JWT access tokens this server issues
// for APIs (RFC 9068; src/oidc/services.ts). They are not stored, and oidc-provider refuses any
// JWT at both endpoints with unsupported_token_type. Rather than patch oidc-provider, a middleware
// in front of both routes lets oidc-provider do everything it does (body parsing, client
// authentication, the token's presence) and, when its answer is that refusal, answers in its
// place (provider-internals.ts isStructuredTokenRefusal): so client authentication stays
// oidc-provider's, and every other token keeps oidc-provider's own handling.
//
// A JWT is active only while: its signature verifies with one of our current signing keys, it is
// ours (iss, typ at+jwt), unexpired, not itself revoked (RevokedAccessToken, shared through the
// database by every instance), its client exists and is enabled, and, for a person's token, that
// person is enabled and the grant it came from still exists (a grant is deleted on code replay,
// refresh-token reuse, `user revoke`) and had its access tokens revoked no later than the token
// was issued (a sign-out revokes them but keeps the grant: GrantAccessTokenCutoff). The grant is
// named in the token by a private claim (`gid`) added to JWT access tokens only.
import type { Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { Client, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { createLocalJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { ProviderJwk } from '../keys/signing-keys.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import type { FeatureDependencies } from './feature.js';
import { INTROSPECTION_JWT_MEDIA_TYPE, isStructuredTokenRefusal, signedIntrospectionResponse, wrapAccessTokenRevokeByGrantId } from './provider-internals.js';
import { auditForeignRevocation, mayIntrospect } from './services.js';
import { tokenStateReader } from './jwt-token-state.js';
import { cutOffAccessTokens } from './access-token-cutoff.js';

const GRANT_CLAIM = 'gid';
/** Longer than any value we issue (jti, ids); a token with more is not ours. */
const MAX_CLAIM_LENGTH = 200;

const claimString = z.string().min(1).max(MAX_CLAIM_LENGTH);
const claimsSchema = z.object({
  iss: z.string(),
  sub: claimString,
  aud: z.union([z.string(), z.array(z.string())]),
  client_id: claimString,
  jti: claimString,
  iat: z.number().int(),
  exp: z.number().int(),
  scope: z.string().optional(),
  [GRANT_CLAIM]: claimString.optional(),
});
type AccessTokenClaims = z.infer<typeof claimsSchema>;

/** Adds the grant's id to a person's JWT access token; opaque tokens keep their stored grant. */
export function jwtAccessTokenConfiguration(): Partial<Configuration> {
  return {
    extraTokenClaims: (_ctx, token) => {
      const jwt = (token.resourceServer as { accessTokenFormat?: string } | undefined)?.accessTokenFormat === 'jwt';
      const grantId = 'grantId' in token ? token.grantId : undefined;
      return jwt && grantId ? { [GRANT_CLAIM]: grantId } : undefined;
    },
  };
}

/**
 * The claims of a JWT access token we signed with one of our current keys (RS256, typ at+jwt,
 * our iss, unexpired: RFC 9068 §4), or null.
 */
async function verifiedClaims(token: string, keys: JWTVerifyGetKey, issuer: string): Promise<AccessTokenClaims | null> {
  try {
    const { payload } = await jwtVerify(token, keys, { issuer, algorithms: ['RS256'], typ: 'at+jwt' });
    const claims = claimsSchema.safeParse(payload);
    return claims.success ? claims.data : null;
  } catch {
    return null;
  }
}

/** Whether the token, already verified, still stands: RFC 7662 §2.2 "active". */
async function stillActive(readState: ReturnType<typeof tokenStateReader>, claims: AccessTokenClaims): Promise<boolean> {
  const grantId = claims[GRANT_CLAIM];
  const base = { jti: claims.jti, clientId: claims.client_id };
  const state = await readState(grantId === undefined ? base : { ...base, grantId, accountId: claims.sub, issuedAt: new Date(claims.iat * 1000) });
  // A deleted client reads as null, a disabled one as true.
  if (state.revoked || state.clientDisabled !== false) return false;
  // Client credentials: the subject is the client (RFC 9068 §2.2) and there is no grant.
  if (grantId === undefined) return claims.sub === claims.client_id;
  // The grant was revoked (deleted: code replay, refresh-token reuse, `user revoke`), or its
  // access tokens were revoked since this one was issued (sign-out), or the person is disabled.
  return state.grantLive === true && state.cutOff === false && state.userDisabled === false;
}

async function introspectionAnswer(readState: ReturnType<typeof tokenStateReader>, caller: Client, claims: AccessTokenClaims | null): Promise<Record<string, unknown>> {
  // Not ours, not the caller's to see, or no longer active: all read the same (RFC 7662 §2.2).
  if (!claims || !mayIntrospect(caller, { clientId: claims.client_id, aud: claims.aud })) return { active: false };
  if (!(await stillActive(readState, claims))) return { active: false };
  return {
    active: true,
    scope: claims.scope,
    client_id: claims.client_id,
    sub: claims.sub,
    aud: claims.aud,
    iss: claims.iss,
    exp: claims.exp,
    iat: claims.iat,
    token_type: 'Bearer',
  };
}

/** RFC 7009 §2.1: the token's own client only; a second revocation is the same answer (§2.2). */
async function revoke(ctx: KoaContextWithOIDC, deps: FeatureDependencies, caller: Client, claims: AccessTokenClaims | null): Promise<void> {
  // An expired or foreign token has nothing left to revoke (verifiedClaims gave null).
  if (!claims) return;
  if (claims.client_id !== caller.clientId) {
    auditForeignRevocation(ctx, deps, caller, { kind: 'AccessToken', clientId: claims.client_id, accountId: claims[GRANT_CLAIM] ? claims.sub : undefined });
    return;
  }
  try {
    // One insert, kept until the token would have expired anyway; a concurrent or repeated
    // revocation meets the primary key and changes nothing.
    await deps.prisma.revokedAccessToken.create({ data: { jti: claims.jti, expiresAt: new Date(claims.exp * 1000) } });
  } catch (error) {
    if (!isUniqueViolation(error)) throw error;
  }
}

/**
 * Whenever oidc-provider revokes a grant's access tokens, JWTs of that grant issued until now
 * become inactive too. The latest revocation wins; the row outlives any access token issued
 * before it.
 */
export function installGrantAccessTokenCutoff(provider: Provider, { prisma }: FeatureDependencies): void {
  wrapAccessTokenRevokeByGrantId(provider, (revokeStored) => async (grantId) => {
    await cutOffAccessTokens(prisma, [grantId]);
    await revokeStored(grantId);
  });
}

/** provider.use middleware: answers introspection and revocation of our JWT access tokens. */
export function jwtAccessTokenEndpoints(provider: Provider, deps: FeatureDependencies, jwks: readonly ProviderJwk[]): Middleware {
  // Public parts only: the provider's JWKs carry their private members.
  const keys = createLocalJWKSet({ keys: jwks.map(({ kty, n, e, kid, alg }) => ({ kty, n, e, kid, alg, use: 'sig' })) });
  const readState = tokenStateReader(deps.sql, deps.config.database.provider);
  return async (ctx, next) => {
    await next();
    const oidcCtx = ctx as KoaContextWithOIDC;
    if (!isStructuredTokenRefusal(oidcCtx)) return;
    const caller = oidcCtx.oidc.client!;
    const claims = await verifiedClaims(String(oidcCtx.oidc.params!.token), keys, provider.issuer);
    if (oidcCtx.oidc.route === 'introspection') {
      const answer = await introspectionAnswer(readState, caller, claims);
      ctx.status = 200;
      // RFC 9701 §4: signed only for a client registered for it that asks for it.
      if (caller.introspectionSignedResponseAlg && ctx.accepts('json', INTROSPECTION_JWT_MEDIA_TYPE) === INTROSPECTION_JWT_MEDIA_TYPE) {
        ctx.body = await signedIntrospectionResponse(oidcCtx, answer);
        ctx.type = `${INTROSPECTION_JWT_MEDIA_TYPE}; charset=utf-8`;
      } else {
        ctx.body = answer;
      }
    } else {
      await revoke(oidcCtx, deps, caller, claims);
      ctx.status = 200;
      ctx.body = '';
    }
  };
}
