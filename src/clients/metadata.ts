// Client registry input: what an administrator may say about a client, validated on every write
// (create and update). The input is small and profile-driven; `clientInputSchema` turns it into
// the complete, consistent metadata (ClientSpec, the one shape of a client) that the registry
// stores and oidc-provider later sees.
//
// Profiles and their defaults:
//   web      confidential  authorization_code + refresh_token   client_secret_basic
//   spa      public        authorization_code + refresh_token   none
//   native   public        authorization_code + refresh_token   none
//   service  confidential  client_credentials                  client_secret_basic
//   device   public        device_code + refresh_token          none
//   resource-server  confidential  (none: it gets no tokens)   client_secret_basic
//
// A resource-server client stands for one API (its default_api, the only place the registry
// keeps it, so no column of its own): it authenticates to the introspection endpoint and may
// introspect any token whose audience includes that API (src/oidc/services.ts).
//
// Redirect URIs (RFC 9700 §2.1, §4.1): absolute, no fragment, no user info, exact-match only.
// web and spa: https, or http on a loopback host (127.0.0.1, [::1], localhost) for development.
// native (RFC 8252): a claimed https URI (§7.2), a loopback IP literal over http (§7.3; the port
// may vary at request time), or a private-use scheme in reverse-domain form such as
// `com.example.app:/callback` (§7.1). `localhost` is refused for native apps (§8.3: it can be
// resolved to a non-loopback interface); use 127.0.0.1 or [::1].
import { createPublicKey } from 'node:crypto';
import { z } from 'zod';

export const PROFILES = ['web', 'spa', 'native', 'service', 'device', 'resource-server'] as const;
export type ClientProfile = (typeof PROFILES)[number];

export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', DEVICE_CODE_GRANT] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/**
 * client_secret_jwt is absent on purpose: secrets are stored hashed, and a hash cannot key the
 * HMAC of an assertion (RFC 7523 §2.2 with HS256 needs the secret itself).
 */
export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type TokenEndpointAuthMethod = (typeof AUTH_METHODS)[number];
/** The methods a confidential client may use (RFC 6749 §2.3): every one but none. */
export const CONFIDENTIAL_AUTH_METHODS = AUTH_METHODS.filter((method) => method !== 'none');
const confidentialMethodList = `${CONFIDENTIAL_AUTH_METHODS.slice(0, -1).join(', ')} or ${CONFIDENTIAL_AUTH_METHODS.at(-1)}`;

/** OpenID Connect scopes offered to clients that sign people in (Core §5.4, §11). */
export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;
export type OidcScope = (typeof OIDC_SCOPES)[number];

/** Asymmetric algorithms a private_key_jwt assertion may use (no HS*, no none: RFC 8725 §3.1). */
export const CLIENT_ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

export type ClientType = 'confidential' | 'public';

type ProfileRules = {
  type: ClientType;
  grantTypes: readonly GrantType[];
  defaultGrantTypes: readonly GrantType[];
  /** The grant that makes a client of this profile what it is; always present (none for a resource server). */
  primaryGrant: GrantType | null;
  /** Browser-based apps make cross-origin calls to the token, revocation and introspection endpoints. */
  corsAllowed: boolean;
  redirectRules: 'web' | 'native' | 'none';
};

const PROFILE_RULES: Record<ClientProfile, ProfileRules> = {
  web: {
    type: 'confidential',
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    defaultGrantTypes: ['authorization_code', 'refresh_token'],
    primaryGrant: 'authorization_code',
    corsAllowed: true,
    redirectRules: 'web',
  },
  spa: {
    type: 'public',
    grantTypes: ['authorization_code', 'refresh_token'],
    defaultGrantTypes: ['authorization_code', 'refresh_token'],
    primaryGrant: 'authorization_code',
    corsAllowed: true,
    redirectRules: 'web',
  },
  native: {
    type: 'public',
    grantTypes: ['authorization_code', 'refresh_token'],
    defaultGrantTypes: ['authorization_code', 'refresh_token'],
    primaryGrant: 'authorization_code',
    corsAllowed: false,
    redirectRules: 'native',
  },
  service: {
    type: 'confidential',
    grantTypes: ['client_credentials'],
    defaultGrantTypes: ['client_credentials'],
    primaryGrant: 'client_credentials',
    corsAllowed: false,
    redirectRules: 'none',
  },
  device: {
    type: 'public',
    grantTypes: [DEVICE_CODE_GRANT, 'refresh_token'],
    defaultGrantTypes: [DEVICE_CODE_GRANT, 'refresh_token'],
    primaryGrant: DEVICE_CODE_GRANT,
    corsAllowed: false,
    redirectRules: 'none',
  },
  'resource-server': {
    type: 'confidential',
    grantTypes: [],
    defaultGrantTypes: [],
    primaryGrant: null,
    corsAllowed: false,
    redirectRules: 'none',
  },
};

// ---------------------------------------------------------------------------
// Field syntax
// ---------------------------------------------------------------------------

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
export const scopeTokenSchema = z
  .string({ message: 'must be a string' })
  .min(1, 'must not be empty')
  .max(100, 'must be at most 100 characters')
  .regex(SCOPE_TOKEN, 'must be a scope token (printable ASCII without spaces, quotes or backslashes, RFC 6749 §3.3)');

/**
 * C0 and C1 controls and DEL: a name or URI holding one would drive the terminal of whoever
 * lists it (`client list`, `audit tail`), and none has a use in them.
 */
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;
export const NO_CONTROL_CHARACTERS = 'must not contain control characters';
export const hasNoControlCharacters = (value: string): boolean => !CONTROL_CHARACTERS.test(value);

/** A name shown to people (consent page, CLI listings): trimmed, 1 to 200 characters, no controls. */
export const displayNameSchema = z
  .string({ message: 'must be a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .refine(hasNoControlCharacters, NO_CONTROL_CHARACTERS);

/** A host name as WHATWG URL parsing leaves it (lower case, punycode), or an IPv6 literal. */
const PLAIN_HOST = /^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?|\[[0-9a-f:.]+\])$/;

/**
 * Returns why a URL's host cannot be registered, or null. The URL parser accepts `*` and other
 * punctuation in a host; registered URIs and origins are compared as exact strings, so a `*`
 * would never act as the wildcard its author meant, only as a literal.
 */
function hostProblem(hostname: string): string | null {
  if (hostname.includes('*')) return 'must not contain a wildcard (*) in the host: URIs are compared exactly, character for character';
  return PLAIN_HOST.test(hostname) ? null : 'must have a host of letters, digits, hyphens and dots, or an IP address';
}

/** Loopback hosts where http is allowed for development (redirect URIs, CORS origins, API identifiers). */
export const WEB_LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const NATIVE_LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);
/** Schemes that can run code or read local data; never a place to send a code to. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'vbscript:', 'data:', 'blob:', 'file:', 'about:', 'filesystem:']);

/** Returns why `uri` cannot be a redirect URI for clients following `rules`, or null when it can. */
function redirectUriProblem(uri: string, rules: 'web' | 'native'): string | null {
  const parsed = URL.parse(uri);
  if (!parsed) return 'must be an absolute URL';
  // RFC 6749 §3.1.2: the endpoint URI MUST NOT include a fragment component.
  if (uri.includes('#')) return 'must not contain a fragment (#)';
  if (parsed.username || parsed.password) return 'must not contain user information';
  const { protocol, hostname } = parsed;
  if (protocol === 'https:' || protocol === 'http:') {
    const problem = hostProblem(hostname);
    if (problem) return problem;
  }
  if (rules === 'web') {
    if (protocol === 'https:') return null;
    if (protocol === 'http:') {
      return WEB_LOOPBACK_HOSTS.has(hostname) ? null : 'must use https (http is allowed only for loopback hosts: 127.0.0.1, [::1], localhost)';
    }
    return 'must be an https URL';
  }
  // Native apps, RFC 8252 §7.
  if (protocol === 'https:') {
    return WEB_LOOPBACK_HOSTS.has(hostname) ? 'must use http, not https, for a loopback redirect (RFC 8252 §7.3)' : null;
  }
  if (protocol === 'http:') {
    if (NATIVE_LOOPBACK_HOSTS.has(hostname)) return null;
    if (hostname === 'localhost') return 'must use the loopback IP literal 127.0.0.1 or [::1], not localhost (RFC 8252 §8.3)';
    return 'must use https, or http only on the loopback address 127.0.0.1 or [::1] (RFC 8252 §7.3)';
  }
  if (FORBIDDEN_SCHEMES.has(protocol)) return `must not use the ${protocol.slice(0, -1)} scheme`;
  // RFC 8252 §7.1: a private-use scheme is based on a domain name the app controls, reversed.
  if (!protocol.slice(0, -1).includes('.')) {
    return 'must use a private-use scheme in reverse domain name form, such as com.example.app:/callback (RFC 8252 §7.1)';
  }
  return null;
}

/** Returns why `origin` is not a usable CORS origin, or null. */
function corsOriginProblem(origin: string): string | null {
  const parsed = URL.parse(origin);
  if (!parsed || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.origin !== origin) {
    return 'must be an origin: scheme, host and optional port, with no path or trailing slash (for example https://app.example.com)';
  }
  if (parsed.protocol === 'http:' && !WEB_LOOPBACK_HOSTS.has(parsed.hostname)) {
    return 'must use https (http is allowed only for loopback hosts)';
  }
  return hostProblem(parsed.hostname);
}

// ---------------------------------------------------------------------------
// JWKS for private_key_jwt (RFC 7523 §2.2, RFC 7517)
// ---------------------------------------------------------------------------

const PUBLIC_JWK_MEMBERS = new Set(['kty', 'kid', 'use', 'alg', 'key_ops', 'n', 'e', 'crv', 'x', 'y', 'x5c', 'x5t', 'x5t#S256', 'x5u', 'ext']);
const PRIVATE_JWK_MEMBERS = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']);
const EC_CURVES = new Set(['P-256', 'P-384', 'P-521']);

const jwkSchema = z
  .looseObject({
    kty: z.enum(['RSA', 'EC', 'OKP'], { message: 'must be RSA, EC or OKP (symmetric keys are not accepted)' }),
    kid: z.string().min(1).max(200).optional(),
    use: z.literal('sig', { message: 'must be sig' }).optional(),
    alg: z.enum(CLIENT_ASSERTION_ALGS, { message: `must be one of ${CLIENT_ASSERTION_ALGS.join(', ')}` }).optional(),
  })
  .superRefine((jwk, ctx) => {
    let unusable = false;
    for (const member of Object.keys(jwk)) {
      if (PRIVATE_JWK_MEMBERS.has(member)) {
        ctx.addIssue({ code: 'custom', path: [member], message: 'is private key material: register the public key only' });
        unusable = true;
      } else if (!PUBLIC_JWK_MEMBERS.has(member)) {
        ctx.addIssue({ code: 'custom', path: [member], message: 'is not a recognised JWK member' });
        unusable = true;
      }
    }
    if (unusable) return;
    if (jwk.kty === 'EC' && !EC_CURVES.has(String(jwk.crv))) {
      ctx.addIssue({ code: 'custom', path: ['crv'], message: 'must be P-256, P-384 or P-521' });
      return;
    }
    if (jwk.kty === 'OKP' && jwk.crv !== 'Ed25519') {
      ctx.addIssue({ code: 'custom', path: ['crv'], message: 'must be Ed25519' });
      return;
    }
    try {
      const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
      const bits = key.asymmetricKeyDetails?.modulusLength;
      if (jwk.kty === 'RSA' && (bits === undefined || bits < 2048)) {
        ctx.addIssue({ code: 'custom', path: ['n'], message: 'must be an RSA modulus of at least 2048 bits' });
      }
    } catch {
      ctx.addIssue({ code: 'custom', message: 'is not a valid public key' });
    }
  });

const jwksSchema = z.strictObject({
  keys: z.array(jwkSchema).min(1, 'must contain at least one key').max(10, 'must contain at most 10 keys'),
});
/** JWKs are checked member by member at runtime, so a key may be any JSON object. */
export type ClientJwks = { keys: Record<string, unknown>[] };

// ---------------------------------------------------------------------------
// The input
// ---------------------------------------------------------------------------

const uriList = (max: number) =>
  z
    .array(
      z
        .string({ message: 'must be a string' })
        .min(1, 'must not be empty')
        .max(2000, 'must be at most 2000 characters')
        // The URL parser drops tabs and newlines silently: the stored string would not be the URI checked.
        .refine(hasNoControlCharacters, NO_CONTROL_CHARACTERS),
    )
    .max(max, `must have at most ${max} entries`);

const clientApiGrantSchema = z.strictObject({
  identifier: z.string({ message: 'must be a string' }).min(1, 'must not be empty').max(500, 'must be at most 500 characters'),
  scopes: z.array(scopeTokenSchema).max(100, 'must have at most 100 entries'),
});

export const INTROSPECTION_SIGNING_ALGS = ['RS256'] as const;

/** The raw shape: field syntax only, unknown fields refused. */
export const clientInputObject = z.strictObject({
  name: displayNameSchema,
  profile: z.enum(PROFILES, { message: `must be one of ${PROFILES.join(', ')}` }),
  redirect_uris: uriList(20).optional(),
  post_logout_redirect_uris: uriList(20).optional(),
  cors_origins: z
    .array(z.string({ message: 'must be a string' }).max(500, 'must be at most 500 characters').refine(hasNoControlCharacters, NO_CONTROL_CHARACTERS))
    .max(20, 'must have at most 20 entries')
    .optional(),
  apis: z.array(clientApiGrantSchema).max(50, 'must have at most 50 entries').optional(),
  scope: z.array(z.enum(OIDC_SCOPES, { message: `must be one of ${OIDC_SCOPES.join(', ')}` })).max(OIDC_SCOPES.length).optional(),
  token_endpoint_auth_method: z
    .enum(AUTH_METHODS, { message: `must be one of ${AUTH_METHODS.join(', ')} (client_secret_jwt is not supported: secrets are stored hashed)` })
    .optional(),
  jwks: jwksSchema.optional(),
  first_party: z.boolean({ message: 'must be true or false' }).optional(),
  /** Every sign-in to this client needs a second factor (src/mfa/policy.ts). */
  require_mfa: z.boolean({ message: 'must be true or false' }).optional(),
  default_api: z.string({ message: 'must be a string' }).min(1, 'must not be empty').max(500, 'must be at most 500 characters').optional(),
  // RFC 9701 §6: signed with the server's signing keys, which are RSA (src/keys).
  introspection_signed_response_alg: z.enum(INTROSPECTION_SIGNING_ALGS, { message: `must be one of ${INTROSPECTION_SIGNING_ALGS.join(', ')}` }).optional(),
  grant_types: z
    .array(z.enum(GRANT_TYPES, { message: `must be one of ${GRANT_TYPES.join(', ')} (implicit and password are not supported)` }))
    .min(1, 'must name at least one grant type')
    .max(GRANT_TYPES.length)
    .optional(),
  // OpenID Connect Back-Channel Logout 1.0 §2.2 (src/backchannel-logout).
  backchannel_logout_uri: z.string({ message: 'must be a string' }).max(2000, 'must be at most 2000 characters').refine(hasNoControlCharacters, NO_CONTROL_CHARACTERS).optional(),
  backchannel_logout_session_required: z.boolean({ message: 'must be true or false' }).optional(),
});
export type ClientInput = Omit<z.input<typeof clientInputObject>, 'jwks'> & { jwks?: ClientJwks };

/** OpenID Connect Dynamic Registration §2; `native` turns on RFC 8252 §7.3 loopback port matching. */
export function applicationTypeOf(profile: ClientProfile): 'web' | 'native' {
  return profile === 'native' ? 'native' : 'web';
}

/** Only the authorization code flow has a response type (RFC 9700 §2.1.2: no implicit, no hybrid). */
export function responseTypesOf(grantTypes: readonly GrantType[]): 'code'[] {
  return grantTypes.includes('authorization_code') ? ['code'] : [];
}

function resolveDefaults(input: z.output<typeof clientInputObject>) {
  const rules = PROFILE_RULES[input.profile];
  const grantTypes: GrantType[] = input.grant_types ?? [...rules.defaultGrantTypes];
  const signsPeopleIn = rules.redirectRules !== 'none' || grantTypes.includes(DEVICE_CODE_GRANT);
  const defaultScope: OidcScope[] = signsPeopleIn
    ? ['openid', 'profile', 'email', ...(grantTypes.includes('refresh_token') ? (['offline_access'] as const) : [])]
    : [];
  const defaultMethod: TokenEndpointAuthMethod = rules.type === 'public' ? 'none' : 'client_secret_basic';
  return {
    name: input.name,
    profile: input.profile,
    type: rules.type,
    application_type: applicationTypeOf(input.profile),
    grant_types: grantTypes,
    response_types: responseTypesOf(grantTypes),
    redirect_uris: input.redirect_uris ?? [],
    post_logout_redirect_uris: input.post_logout_redirect_uris ?? [],
    cors_origins: input.cors_origins ?? [],
    apis: input.apis ?? [],
    scope: input.scope ?? defaultScope,
    token_endpoint_auth_method: input.token_endpoint_auth_method ?? defaultMethod,
    jwks: (input.jwks as ClientJwks | undefined) ?? null,
    first_party: input.first_party ?? false,
    require_mfa: input.require_mfa ?? false,
    default_api: input.default_api ?? null,
    introspection_signed_response_alg: input.introspection_signed_response_alg ?? null,
    backchannel_logout_uri: input.backchannel_logout_uri ?? null,
    backchannel_logout_session_required: input.backchannel_logout_session_required ?? false,
  };
}

/**
 * Back-Channel Logout 1.0 §2.2: an absolute http(s) URI without fragment (query allowed); https,
 * or http on a loopback host for development, as for web redirect URIs.
 */
function backchannelLogoutUriProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.hash || uri.includes('#')) return 'must not contain a fragment (§2.2)';
  if (url.username || url.password) return 'must not contain user info';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:' && WEB_LOOPBACK_HOSTS.has(url.hostname)) return null;
  return 'must be https (http only on a loopback host)';
}

function duplicates(values: readonly string[]): number[] {
  const seen = new Set<string>();
  const at: number[] = [];
  values.forEach((value, index) => {
    if (seen.has(value)) at.push(index);
    seen.add(value);
  });
  return at;
}

function checkConsistency(spec: ClientSpec, ctx: z.core.$RefinementCtx<ClientSpec>): void {
  const rules = PROFILE_RULES[spec.profile];
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });

  // Grant types per profile. RFC 6749 §4.4: client credentials only for confidential clients.
  spec.grant_types.forEach((grant, index) => {
    if (!rules.grantTypes.includes(grant)) {
      const allowed = rules.grantTypes.length ? `allowed: ${rules.grantTypes.join(', ')}` : 'they get no tokens';
      issue(['grant_types', index], `"${grant}" is not available to ${spec.profile} clients (${allowed})`);
    }
  });
  for (const index of duplicates(spec.grant_types)) issue(['grant_types', index], 'is listed twice');
  if (rules.primaryGrant !== null && !spec.grant_types.includes(rules.primaryGrant)) {
    issue(['grant_types'], `must include ${rules.primaryGrant} for ${spec.profile} clients`);
  }
  if (spec.grant_types.includes('refresh_token') && !spec.grant_types.some((g) => g === 'authorization_code' || g === DEVICE_CODE_GRANT)) {
    issue(['grant_types'], 'refresh_token needs a grant that issues refresh tokens (authorization_code or device_code)');
  }

  // Authentication method matches the client type (RFC 6749 §2.1, §2.3).
  const method = spec.token_endpoint_auth_method;
  if (spec.type === 'public' && method !== 'none') {
    issue(['token_endpoint_auth_method'], `must be none for ${spec.profile} clients: a public client cannot keep a credential (RFC 6749 §2.1)`);
  }
  if (spec.type === 'confidential' && method === 'none') {
    issue(['token_endpoint_auth_method'], `must be ${confidentialMethodList} for ${spec.profile} clients (confidential)`);
  }
  if (method === 'private_key_jwt' && !spec.jwks) issue(['jwks'], 'is required with token_endpoint_auth_method private_key_jwt');
  if (method !== 'private_key_jwt' && spec.jwks) issue(['jwks'], 'is only used with token_endpoint_auth_method private_key_jwt');
  // RFC 7662 §2.1: the introspection endpoint answers authenticated callers only.
  if (spec.type === 'public' && spec.introspection_signed_response_alg !== null) {
    issue(['introspection_signed_response_alg'], `is only for confidential clients: a ${spec.profile} client cannot call the introspection endpoint`);
  }

  // Redirect URIs exist exactly when the authorization code grant does.
  const usesRedirects = spec.grant_types.includes('authorization_code');
  if (usesRedirects && spec.redirect_uris.length === 0) {
    issue(['redirect_uris'], 'must contain at least one URI for the authorization_code grant');
  }
  for (const field of ['redirect_uris', 'post_logout_redirect_uris'] as const) {
    if (!usesRedirects && spec[field].length > 0) {
      issue([field], `is only used with the authorization_code grant, which ${spec.profile} clients here do not have`);
      continue;
    }
    if (rules.redirectRules === 'none') continue;
    const redirectRules = rules.redirectRules;
    spec[field].forEach((uri, index) => {
      const problem = redirectUriProblem(uri, redirectRules);
      if (problem) issue([field, index], problem);
    });
    for (const index of duplicates(spec[field])) issue([field, index], 'is listed twice');
  }

  if (!rules.corsAllowed && spec.cors_origins.length > 0) {
    issue(['cors_origins'], `is only for browser-based clients (profile web or spa), not ${spec.profile}`);
  }
  spec.cors_origins.forEach((origin, index) => {
    const problem = corsOriginProblem(origin);
    if (problem) issue(['cors_origins', index], problem);
  });
  for (const index of duplicates(spec.cors_origins)) issue(['cors_origins', index], 'is listed twice');

  // OpenID Connect scopes. oidc-provider reads an empty allow-list as "no restriction", so a
  // client that signs people in must name its scopes; a service has no person to describe.
  for (const index of duplicates(spec.scope)) issue(['scope', index], 'is listed twice');
  const signsPeopleIn = spec.grant_types.some((g) => g === 'authorization_code' || g === DEVICE_CODE_GRANT);
  if (signsPeopleIn && spec.scope.length === 0) issue(['scope'], 'must name at least one OpenID Connect scope (for example openid)');
  if (!signsPeopleIn && spec.scope.length > 0) issue(['scope'], `must be empty: ${spec.profile} clients act for themselves, not for a person`);
  if (spec.scope.includes('offline_access') && !spec.grant_types.includes('refresh_token')) {
    issue(['scope'], 'offline_access needs the refresh_token grant');
  }

  // APIs: each once, scopes each once; the default API is one of them.
  for (const index of duplicates(spec.apis.map((a) => a.identifier))) issue(['apis', index, 'identifier'], 'is listed twice');
  spec.apis.forEach((api, apiIndex) => {
    for (const index of duplicates(api.scopes)) issue(['apis', apiIndex, 'scopes', index], 'is listed twice');
  });
  if (spec.backchannel_logout_uri !== null) {
    if (!signsPeopleIn) issue(['backchannel_logout_uri'], `is only for clients that sign people in, not ${spec.profile}`);
    const problem = backchannelLogoutUriProblem(spec.backchannel_logout_uri);
    if (problem) issue(['backchannel_logout_uri'], problem);
  } else if (spec.backchannel_logout_session_required) {
    issue(['backchannel_logout_session_required'], 'needs a backchannel_logout_uri');
  }

  if (spec.profile === 'resource-server') {
    // It stands for its API rather than getting tokens for one.
    if (spec.default_api === null) issue(['default_api'], 'is required for resource-server clients: the API this client stands for');
    if (spec.apis.length > 0) issue(['apis'], 'must be empty: a resource-server client gets no tokens (its API is default_api)');
  } else if (spec.default_api !== null && !spec.apis.some((a) => a.identifier === spec.default_api)) {
    issue(['default_api'], 'must be the identifier of one of the client\'s apis');
  }
}

const resolvedClientSchema = clientInputObject.transform(resolveDefaults);

/**
 * Complete, consistent client metadata: defaults applied, every cross-field rule checked. The one
 * shape of a client; the registry's view (client-view.ts) and oidc-provider's metadata
 * (provider-metadata.ts) are derived from it.
 */
export type ClientSpec = z.output<typeof resolvedClientSchema>;

/** Registry input -> complete client metadata. Every problem is reported with its field path. */
export const clientInputSchema = resolvedClientSchema.superRefine(checkConsistency);

/** Spec fields that follow from the others (profile, grant types) and are never set directly. */
type DerivedField = 'type' | 'application_type' | 'response_types';
/** What an administrator sets: the spec without its derived fields, in the spec's order. */
export type ClientSettings = Omit<ClientSpec, DerivedField>;

export function settingsOf(spec: ClientSpec): ClientSettings {
  const { type: _type, application_type: _applicationType, response_types: _responseTypes, ...settings } = spec;
  return settings;
}

/** Profile-derived fields, re-derived when an update changes the profile without naming them. */
export const PROFILE_DERIVED_FIELDS = ['grant_types', 'token_endpoint_auth_method', 'scope'] as const;

export function needsClientSecret(method: TokenEndpointAuthMethod): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}
