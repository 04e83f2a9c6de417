// The one module that relies on oidc-provider beyond its documented configuration: methods we
// replace on its models, its request context, the key format of its replay model, and the texts
// and names of errors it does not give us any other way. Feature modules call the small functions
// below instead; test/oidc/provider-internals.test.ts pins each assumption against the installed
// oidc-provider, so an upgrade that breaks one fails there, in one place. Paths like
// lib/shared/client_auth.js are files of node_modules/oidc-provider.
import { createHash } from 'node:crypto';
import Provider from 'oidc-provider';
import { z } from 'zod';
import type { AuthorizationCode, Client, KoaContextWithOIDC, errors } from 'oidc-provider';

/** The request being served, from oidc-provider's AsyncLocalStorage (Provider.ctx); undefined outside one. */
export function currentContext(): KoaContextWithOIDC | undefined {
  return Provider.ctx;
}

/** error_detail of an oidc-provider error ('' when it has none). */
export function errorDetailOf(error: Pick<errors.OIDCProviderError, 'error_detail'>): string {
  return error.error_detail ?? '';
}

/** error_detail texts oidc-provider produces, each matched by a feature module. */
export const PROVIDER_ERROR_DETAILS = {
  /** lib/actions/grants/refresh_token.js: a rotated refresh token came back; the grant is revoked. */
  refreshTokenReused: 'refresh token already used',
  /** lib/helpers/grant_common.js: findAccount found no one for a refresh token. */
  refreshTokenAccountNotFound: 'refresh token invalid (referenced account not found)',
  /** lib/helpers/grant_source.js: the code read was already consumed; the grant is revoked. */
  authorizationCodeConsumed: 'authorization code already consumed',
  /** lib/helpers/grant_source.js: the code's grant no longer exists. */
  grantNotFound: 'grant not found',
  /** lib/helpers/resolve_resource.js: a token request resolving to several resources. */
  singleResourceRequired: 'only a single resource indicator value must be requested/resolved during Access Token Request',
} as const;

/**
 * lib/actions/authorization/client.js: the error_description of invalid_request for a client
 * asking for a grant (device authorization) it is not allowed.
 */
export function isGrantNotAllowedForClient(description: unknown): boolean {
  return typeof description === 'string' && description.endsWith('is not allowed for this client');
}

/** The errors oidc-provider re-renders the verification URI with (lib/helpers/re_render_errors.js; not exported). */
export const RE_RENDER_ERROR_NAMES = ['NoCodeError', 'NotFoundError', 'ExpiredError', 'AlreadyUsedError', 'AbortedError'] as const;
export type ReRenderErrorName = (typeof RE_RENDER_ERROR_NAMES)[number];

/** Which re-render error `error` is, known by its name; undefined for any other error. */
export function reRenderErrorName(error: Error): ReRenderErrorName | undefined {
  return (RE_RENDER_ERROR_NAMES as readonly string[]).includes(error.name) ? (error.name as ReRenderErrorName) : undefined;
}

/** ReplayDetection's key for a JWT: sha256(iss || jti), base64url (lib/models/replay_detection.js). */
export function replayDetectionKey(iss: string, jti: string): string {
  return createHash('sha256').update(`${iss}${jti}`).digest('base64url');
}

/**
 * oidc-provider compares client secrets in plaintext unless Client.prototype.compareClientSecret
 * is replaced; lib/shared/client_auth.js awaits it with the presented secret.
 */
export function replaceClientSecretCheck(provider: Provider, check: (clientId: string, presented: string) => Promise<boolean>): void {
  provider.Client.prototype.compareClientSecret = async function compareClientSecret(this: Client, presented: string) {
    return check(this.clientId, presented);
  };
}

type ClientFind = (clientId: string) => Promise<Client | undefined>;

/**
 * Replaces Client.find, which lib/shared/client_auth.js calls with the client_id a request names
 * before it compares any secret or verifies any assertion. `wrap` gets the original.
 */
export function wrapClientFind(provider: Provider, wrap: (find: ClientFind) => ClientFind): void {
  const Client = provider.Client;
  Client.find = wrap(Client.find.bind(Client));
}

type CodeFind = (jti: string, options?: { ignoreExpiration?: boolean }) => Promise<AuthorizationCode | undefined>;

/** Replaces AuthorizationCode.find, through which the token endpoint reads a presented code. */
export function wrapAuthorizationCodeFind(provider: Provider, wrap: (find: CodeFind) => CodeFind): void {
  const model = provider.AuthorizationCode;
  const find = model.find.bind(model) as CodeFind;
  (model as unknown as { find: CodeFind }).find = wrap(find);
}

type CodeConsume = (code: AuthorizationCode) => Promise<void>;

/** Replaces AuthorizationCode.prototype.consume, called once a code exchange passed every check. */
export function wrapAuthorizationCodeConsume(provider: Provider, wrap: (consume: CodeConsume) => CodeConsume): void {
  const prototype = provider.AuthorizationCode.prototype;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with the code as `this`
  const consume = prototype.consume;
  const wrapped = wrap((code) => consume.call(code));
  prototype.consume = async function consume(this: AuthorizationCode) {
    return wrapped(this);
  };
}

type RevokeByGrantId = (grantId: string) => Promise<void>;

/**
 * Replaces AccessToken.revokeByGrantId, which lib/helpers/revoke.js calls whenever it revokes a
 * grant's tokens (sign-out, code replay, refresh-token reuse, revocation), whether or not the
 * grant itself goes too. `wrap` gets the original.
 */
export function wrapAccessTokenRevokeByGrantId(provider: Provider, wrap: (revoke: RevokeByGrantId) => RevokeByGrantId): void {
  const model = provider.AccessToken as unknown as { revokeByGrantId: RevokeByGrantId };
  model.revokeByGrantId = wrap(model.revokeByGrantId.bind(model));
}

/** A grant revoked as oidc-provider's replay handling revokes it (lib/helpers/revoke.js). */
export async function revokeGrantAsProvider(provider: Provider, grantId: string): Promise<void> {
  await Promise.all([
    provider.AccessToken.revokeByGrantId(grantId),
    provider.RefreshToken.revokeByGrantId(grantId),
    provider.AuthorizationCode.revokeByGrantId(grantId),
    provider.Grant.adapter.destroy(grantId),
  ]);
}

/**
 * oidc-provider refuses every JWT-shaped token at introspection and revocation with
 * unsupported_token_type (lib/shared/reject_structured_tokens.js), a step that runs after the
 * calling client is authenticated (lib/actions/introspection.js, revocation.js). That refusal,
 * rendered by the route's error handler, is the one signal src/oidc/jwt-access-tokens.ts answers
 * in its place: the client is authenticated (a failed authentication answers invalid_client
 * first, though ctx.oidc.client is already set then) and ctx.oidc.params.token is the JWT.
 */
export function isStructuredTokenRefusal(ctx: KoaContextWithOIDC): boolean {
  const route = ctx.oidc?.route;
  if (route !== 'introspection' && route !== 'revocation') return false;
  const body = ctx.body as { error?: unknown } | undefined;
  return ctx.status === 400 && body?.error === 'unsupported_token_type' && ctx.oidc.client !== undefined && typeof ctx.oidc.params?.token === 'string';
}

/** What pages outside the protocol (the account page, factor management) may know of a session. */
export type SignedInSession = {
  accountId: string;
  /** The session's storage id (the adapter's Session id), for listing and ending sessions. */
  id: string;
  /** Seconds since the epoch when the person last signed in (OpenID Connect Core 1.0 §2 auth_time). */
  loginTs: number | undefined;
  amr: string[] | undefined;
  acr: string | undefined;
};

/**
 * The signed-in session a plain Koa request carries, read as oidc-provider reads its own: the
 * session cookie (signed with the provider's cookie keys) names a Session stored through the
 * adapter (lib/models/session.js Session.get). Undefined without a cookie or without a person.
 * Session.get never saves, so reading creates no session.
 */
export async function signedInSession(provider: Provider, ctx: { req: KoaContextWithOIDC['req']; res: KoaContextWithOIDC['res']; secure: boolean }): Promise<SignedInSession | undefined> {
  const session = (await provider.Session.get(ctx as unknown as KoaContextWithOIDC)) as Awaited<ReturnType<Provider['Session']['get']>> & { jti: string; amr?: string[]; acr?: string };
  const { accountId, jti, loginTs, amr, acr } = session;
  if (!accountId) return undefined;
  return { accountId, id: jti, loginTs, amr, acr };
}

/** RFC 9701 §4: the media type a caller asks for and gets a signed introspection response in. */
export const INTROSPECTION_JWT_MEDIA_TYPE = 'application/token-introspection+jwt';

/**
 * An introspection answer signed exactly as oidc-provider signs its own when jwtIntrospection is
 * on (lib/actions/introspection.js jwtIntrospectionResponse): an IdToken issued for the
 * 'introspection' use (lib/models/id_token.js) carries it as `token_introspection`, typ
 * token-introspection+jwt, aud the caller, signed with the current key for the caller's
 * introspection_signed_response_alg. Used for the JWT access tokens oidc-provider does not
 * introspect, so both kinds of token answer in one format.
 */
export async function signedIntrospectionResponse(ctx: KoaContextWithOIDC, answer: Record<string, unknown>): Promise<string> {
  type IdTokenLike = { extra: Record<string, unknown>; issue(options: { use: 'introspection' }): Promise<string> };
  const IdToken = ctx.oidc.provider.IdToken as unknown as new (claims: object, options: { ctx: KoaContextWithOIDC }) => IdTokenLike;
  const token = new IdToken({}, { ctx });
  token.extra = { token_introspection: answer, aud: answer.aud };
  return token.issue({ use: 'introspection' });
}

/**
 * lib/actions/end_session.js calls client.backchannelLogout(accountId, sid) for each client of
 * the session being ended that registered a backchannel_logout_uri (features.backchannelLogout),
 * and itself sends the logout token at once (lib/models/client.js). Replaced so that the token
 * goes through Gatehouse's outbox instead (src/backchannel-logout): durable and retried.
 */
export function replaceBackchannelLogout(provider: Provider, queue: (clientId: string, accountId: string, sid: string | undefined) => Promise<void>): void {
  (provider.Client.prototype as unknown as { backchannelLogout: (sub: string, sid?: string) => Promise<void> }).backchannelLogout = async function backchannelLogout(
    this: Client,
    sub: string,
    sid?: string,
  ) {
    await queue(this.clientId, sub, sid);
  };
}

/** What a stored Session payload (the adapter's `payload` column) says, for the account page and sign-out. */
export type StoredSessionFacts = {
  /** lib/models/session.js: seconds since the epoch of the sign-in. */
  loginTs: number | undefined;
  /**
   * lib/models/session.js `authorizations`: per client, the grant made through this session, and
   * persistsLogout (set by lib/helpers/process_response_types.js when offline_access was granted),
   * which lib/actions/end_session.js reads to keep that grant's tokens at logout.
   */
  grants: { clientId: string; grantId: string; persistsLogout: boolean }[];
};

const storedSession = z
  .object({
    loginTs: z.number().int().optional(),
    authorizations: z.record(z.string(), z.object({ grantId: z.string().optional(), persistsLogout: z.boolean().optional() }).loose()).optional(),
  })
  .loose();

export function storedSessionFacts(payload: unknown): StoredSessionFacts {
  const parsed = storedSession.safeParse(payload);
  if (!parsed.success) return { loginTs: undefined, grants: [] };
  return {
    loginTs: parsed.data.loginTs,
    grants: Object.entries(parsed.data.authorizations ?? {}).flatMap(([clientId, a]) =>
      a.grantId ? [{ clientId, grantId: a.grantId, persistsLogout: a.persistsLogout === true }] : [],
    ),
  };
}
