// Builds the oidc-provider instance from explicit dependencies. Policy decisions live in the
// small modules this file imports; this file only assembles them.
import Provider from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { issuerIsHttps, type GatehouseConfig } from '../config.js';
import type { Db } from '../db/client.js';
import { createOidcAdapter, type ClientLookup } from '../db/oidc-adapter.js';
import type { ProviderJwk } from '../keys/signing-keys.js';
import { renderProviderError } from './errors.js';
import { replayRefusal } from './replay-refusal.js';
import { INTERACTION_PATH } from '../http/endpoints.js';

export type ProviderDependencies = {
  config: GatehouseConfig;
  prisma: Db;
  jwks: ProviderJwk[];
  cookieKeys: string[];
  findClient: ClientLookup;
  /** Configuration contributed by feature modules (sign-in, services, refresh, device flow). */
  extensions: Partial<Configuration>[];
};

/** Later extensions win; `features`, `ttl` and `interactions` merge key by key so modules can each add theirs. */
function mergeConfiguration(base: Configuration, extensions: Partial<Configuration>[]): Configuration {
  return extensions.reduce<Configuration>(
    (merged, extension) => ({
      ...merged,
      ...extension,
      features: { ...merged.features, ...extension.features },
      ttl: { ...merged.ttl, ...extension.ttl },
      interactions: { ...merged.interactions, ...extension.interactions },
    }),
    base,
  );
}


export function createProvider(deps: ProviderDependencies): Provider {
  const { config } = deps;
  const secureCookies = issuerIsHttps(config);
  const configuration: Configuration = {
    adapter: createOidcAdapter({ prisma: deps.prisma, provider: config.database.provider }, deps.findClient, replayRefusal),
    jwks: { keys: deps.jwks as unknown as NonNullable<Configuration['jwks']>['keys'] },
    cookies: {
      keys: deps.cookieKeys,
      // HttpOnly (no script reads them), Secure when https, SameSite=Lax (not on cross-site POSTs).
      long: { httpOnly: true, sameSite: 'lax', secure: secureCookies, signed: true },
      short: { httpOnly: true, sameSite: 'lax', secure: secureCookies, signed: true },
    },
    // Only the authorization code flow: implicit and hybrid are refused (RFC 9700 §2.1.2).
    responseTypes: ['code'],
    // PKCE for every authorization request, not only public clients (RFC 9700 §2.1.1).
    pkce: { required: () => true },
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256'],
      userinfoSigningAlgValues: ['RS256'],
      introspectionSigningAlgValues: ['RS256'],
      authorizationSigningAlgValues: ['RS256'],
      // Client secrets are stored hashed, so HMAC algorithms keyed by them cannot work.
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
    },
    clientDefaults: {
      id_token_signed_response_alg: 'RS256',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
    ttl: {
      Session: config.ttl.session,
      Interaction: config.ttl.interaction,
      AuthorizationCode: config.ttl.authorizationCode,
      IdToken: config.ttl.idToken,
      AccessToken: config.ttl.accessToken,
      ClientCredentials: config.ttl.accessToken,
      Grant: config.ttl.refreshTokenAbsolute,
    },
    interactions: {
      url: (_ctx: KoaContextWithOIDC, interaction) => `${INTERACTION_PATH}/${interaction.uid}`,
    },
    features: {
      devInteractions: { enabled: false },
      // RFC 9207 `iss` in authorization responses (also oidc-provider's default).
      // PAR stays on (its default); dynamic registration stays off.
    },
    renderError: renderProviderError,
  };
  const provider = new Provider(config.issuer, mergeConfiguration(configuration, deps.extensions));
  provider.proxy = config.trustProxy;
  return provider;
}
