// Talking to an upstream through openid-client: its configuration (OpenID Connect Discovery, or
// endpoints configured for a plain OAuth 2.0 upstream), the authorization request with PKCE S256
// (RFC 7636), state and nonce, and the checks of the response: state, RFC 9207 `iss` (required
// when the upstream's metadata says it sends one), the code exchange, the ID token (signature
// against the upstream's JWKS, iss, aud, exp, nonce: OpenID Connect Core §3.1.3.7), then userinfo.
// Every request is bounded by UPSTREAM_TIMEOUT. Answers are read through zod.
import * as oidc from 'openid-client';
import { z } from 'zod';
import type { ProviderJwk } from '../keys/signing-keys.js';
import { isLoopbackHttp, type UpstreamWithSecret } from './registry.js';

/** Discovery answers are reused for this long (and refetched when the upstream's row changes). */
const DISCOVERY_CACHE_MS = 10 * 60 * 1000;

const discovered = new Map<string, { config: oidc.Configuration; at: number }>();

/** Gatehouse's signing key, for private_key_jwt client authentication (RFC 7523 §2.2). */
export type SigningKeySource = () => ProviderJwk | undefined;

async function clientAuth(upstream: UpstreamWithSecret, signingKey: SigningKeySource): Promise<oidc.ClientAuth> {
  if (upstream.client_auth_method === 'private_key_jwt') {
    const jwk = signingKey();
    if (!jwk) throw new Error('no signing key for private_key_jwt');
    const { kty, n, e, d, p, q, dp, dq, qi } = jwk;
    const key = await crypto.subtle.importKey('jwk', { kty, n, e, d, p, q, dp, dq, qi }, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    return oidc.PrivateKeyJwt({ key, kid: jwk.kid });
  }
  if (!upstream.clientSecret) return oidc.None();
  return upstream.client_auth_method === 'client_secret_post' ? oidc.ClientSecretPost(upstream.clientSecret) : oidc.ClientSecretBasic(upstream.clientSecret);
}

/** The openid-client configuration of an upstream; OpenID Connect upstreams are discovered (cached). */
export async function upstreamConfiguration(upstream: UpstreamWithSecret, timeoutSeconds: number, signingKey: SigningKeySource): Promise<oidc.Configuration> {
  const insecure = isLoopbackHttp(new URL(upstream.issuer));
  if (upstream.kind === 'oauth2') {
    const config = new oidc.Configuration(
      {
        issuer: upstream.issuer,
        authorization_endpoint: upstream.authorization_endpoint!,
        token_endpoint: upstream.token_endpoint!,
        userinfo_endpoint: upstream.userinfo_endpoint!,
      },
      upstream.client_id,
      undefined,
      await clientAuth(upstream, signingKey),
    );
    if ([upstream.authorization_endpoint, upstream.token_endpoint, upstream.userinfo_endpoint].some((u) => u && isLoopbackHttp(new URL(u)))) {
      oidc.allowInsecureRequests(config);
    }
    config.timeout = timeoutSeconds;
    return config;
  }
  // The cache key holds everything the configuration depends on, the secret included (the signing key's kid for private_key_jwt: a rotation signs with the new key).
  const key = JSON.stringify([upstream.id, upstream.updated_at, upstream.issuer, upstream.client_id, upstream.client_auth_method === 'private_key_jwt' ? signingKey()?.kid : null]);
  const cached = discovered.get(key);
  if (cached && Date.now() - cached.at < DISCOVERY_CACHE_MS) return cached.config;
  // discovery() checks that the metadata names exactly this issuer (Discovery §4.3).
  const config = await oidc.discovery(new URL(upstream.issuer), upstream.client_id, undefined, await clientAuth(upstream, signingKey), {
    timeout: timeoutSeconds,
    ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}),
  });
  // ID tokens from the token endpoint are verified against the upstream's JWKS too, not only
  // trusted for having come over TLS (Core §3.1.3.7 allows either; loopback test upstreams have no TLS).
  oidc.enableNonRepudiationChecks(config);
  config.timeout = timeoutSeconds;
  discovered.set(key, { config, at: Date.now() });
  return config;
}

export type AuthorizationStart = { url: URL; state: string; nonce: string | null; codeVerifier: string };

export async function startAuthorization(config: oidc.Configuration, upstream: UpstreamWithSecret, redirectUri: string): Promise<AuthorizationStart> {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = upstream.kind === 'oidc' ? oidc.randomNonce() : null;
  const params: Record<string, string> = {
    redirect_uri: redirectUri,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    ...(upstream.scopes.length ? { scope: upstream.scopes.join(' ') } : {}),
    ...(nonce ? { nonce } : {}),
  };
  return { url: oidc.buildAuthorizationUrl(config, params), state, nonce, codeVerifier };
}

/** What Gatehouse learned about the person: the subject and what the claim mapping names. */
export type UpstreamIdentity = { subject: string; email: string | null; emailVerified: boolean; name: string | null };

const claimsSchema = z.record(z.string(), z.unknown());

/** A stable id is a string or an integer (GitHub's numeric user id); anything else is not one. */
function subjectOf(value: unknown): string | null {
  if (typeof value === 'string' && value.length > 0 && value.length <= 255) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
}

function stringOf(value: unknown, max: number): string | null {
  return typeof value === 'string' && value.trim().length > 0 && value.length <= max ? value.trim() : null;
}

class UpstreamResponseError extends Error {
  override name = 'UpstreamResponseError';
  constructor(readonly check: string) {
    super(`upstream response refused: ${check}`);
  }
}

function identityFrom(claims: Record<string, unknown>, upstream: UpstreamWithSecret): UpstreamIdentity {
  const mapping = upstream.claims;
  const subject = subjectOf(claims[mapping.subject]);
  if (!subject) throw new UpstreamResponseError('subject_missing');
  const email = mapping.email ? stringOf(claims[mapping.email], 254) : null;
  // Only the literal `true` counts (a string "true" is not an assertion the upstream made).
  const emailVerified = email !== null && mapping.email_verified !== null && claims[mapping.email_verified] === true;
  return { subject, email, emailVerified, name: mapping.name ? stringOf(claims[mapping.name], 200) : null };
}

export type AuthorizationChecks = { state: string; nonce: string | null; codeVerifier: string };

/**
 * Checks the authorization response (`callbackUrl`, built from ISSUER and the query received),
 * exchanges the code, validates the ID token, reads userinfo. Throws openid-client's errors or
 * UpstreamResponseError; the caller turns them into a page.
 */
export async function completeAuthorization(
  config: oidc.Configuration,
  upstream: UpstreamWithSecret,
  callbackUrl: URL,
  checks: AuthorizationChecks,
): Promise<UpstreamIdentity> {
  const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: checks.codeVerifier,
    expectedState: checks.state,
    ...(checks.nonce ? { expectedNonce: checks.nonce } : {}),
    idTokenExpected: upstream.kind === 'oidc',
  });
  if (upstream.kind === 'oidc') {
    const idClaims = tokens.claims();
    if (!idClaims) throw new UpstreamResponseError('id_token_missing');
    let claims: Record<string, unknown> = { ...idClaims };
    if (config.serverMetadata().userinfo_endpoint) {
      // Userinfo's sub must be the ID token's (Core §5.3.2); openid-client checks it.
      const info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      // The ID token's own claims win; userinfo fills what the ID token left out.
      claims = { ...claimsSchema.parse(info), ...claims };
    }
    return identityFrom(claims, upstream);
  }
  const response = await oidc.fetchProtectedResource(config, tokens.access_token, new URL(upstream.userinfo_endpoint!), 'GET', undefined, new Headers({ accept: 'application/json' }));
  if (!response.ok) throw new UpstreamResponseError(`userinfo_status_${response.status}`);
  const text = await response.text();
  if (text.length > 64 * 1024) throw new UpstreamResponseError('userinfo_too_large');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UpstreamResponseError('userinfo_not_json');
  }
  const parsed = claimsSchema.safeParse(body);
  if (!parsed.success) throw new UpstreamResponseError('userinfo_not_an_object');
  return identityFrom(parsed.data, upstream);
}

export type FailureReason = 'denied' | 'upstream_error' | 'unreachable' | 'timeout' | 'invalid_response';

/** Which kind of failure an error from openid-client (or fetch) is, and which check failed, for the page and the audit trail. */
export function classifyFailure(error: unknown): { reason: FailureReason; check: string } {
  if (error instanceof oidc.AuthorizationResponseError) {
    return { reason: error.error === 'access_denied' ? 'denied' : 'upstream_error', check: safeCode(error.error) };
  }
  if (error instanceof oidc.ResponseBodyError) return { reason: 'upstream_error', check: safeCode(error.error) };
  if (error instanceof UpstreamResponseError) return { reason: 'invalid_response', check: error.check };
  const chain = causes(error);
  if (chain.some((c) => c.name === 'TimeoutError' || c.name === 'AbortError')) return { reason: 'timeout', check: 'timeout' };
  // fetch's own failure (refused, reset, DNS): a TypeError, possibly wrapped by openid-client.
  if (chain.some((c) => c.name === 'TypeError')) return { reason: 'unreachable', check: 'network' };
  // An answer that is not one (a 5xx page, HTML instead of JSON): the upstream is not working.
  const code = (error as { code?: unknown }).code;
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || code === 'OAUTH_RESPONSE_IS_NOT_JSON') return { reason: 'unreachable', check: code };
  if (error instanceof oidc.ClientError) {
    return { reason: 'invalid_response', check: safeCode(failedCheck(error)) };
  }
  return { reason: 'unreachable', check: 'unknown' };
}

/**
 * Which check refused a response, from openid-client's error: its code, and the claim or response
 * parameter the underlying processing error names (a JWT claim comparison names the claim; an
 * invalid authorization response names the parameter, e.g. "iss", in its fixed message).
 */
function failedCheck(error: oidc.ClientError): string {
  const inner = error.cause as { message?: unknown; cause?: { claim?: unknown; attribute?: unknown } } | undefined;
  const named =
    typeof inner?.cause?.claim === 'string'
      ? inner.cause.claim
      : typeof inner?.cause?.attribute === 'string'
        ? inner.cause.attribute
        : typeof inner?.message === 'string'
          ? /"([A-Za-z_]{1,40})"/.exec(inner.message)?.[1]
          : undefined;
  return named ? `${error.code}:${named}` : String(error.code);
}

type ErrorLike = { name?: unknown; cause?: unknown };

/**
 * The error and its causes, outermost first (bounded: a cause chain could be a cycle). Read by
 * shape, not instanceof: fetch's errors may come from another realm (a vm context).
 */
function causes(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  let current: unknown = error;
  while (typeof current === 'object' && current !== null && chain.length < 8) {
    chain.push(current);
    current = (current as ErrorLike).cause;
  }
  return chain;
}

/** An error code fit for an audit row: short, plain characters only. */
function safeCode(value: string): string {
  return value.replace(/[^A-Za-z0-9_:.-]/g, '').slice(0, 80) || 'unknown';
}
