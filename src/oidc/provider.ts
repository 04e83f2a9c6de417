// Builds the oidc-provider instance from the ordered feature list (src/features.ts): the core
// configuration below, then each feature's configuration, listeners and middleware.
import Provider from 'oidc-provider';
import type { Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { CLIENT_ASSERTION_ALGS } from '../clients/metadata.js';
import { issuerIsHttps, type GatehouseConfig } from '../config.js';
import type { Db } from '../db/client.js';
import type { DirectSql } from '../db/direct-sql.js';
import { createOidcAdapter, type ClientLookup } from '../db/oidc-adapter.js';
import type { ProviderJwk } from '../keys/signing-keys.js';
import { mergeConfigurations, type Feature } from './feature.js';
import { renderProviderError } from './errors.js';
import { replayRefusal } from './replay-refusal.js';
import { INTERACTION_PATH } from '../http/endpoints.js';

export type CoreDependencies = {
  config: GatehouseConfig;
  prisma: Db;
  sql: DirectSql;
  jwks: ProviderJwk[];
  cookieKeys: string[];
  findClient: ClientLookup;
};

/** What every provider has whatever the features: storage, keys, cookies, the authorization request policy. */
export function coreFeature(deps: CoreDependencies): Feature {
  const { config } = deps;
  const secureCookies = issuerIsHttps(config);
  const configuration: Configuration = {
    adapter: createOidcAdapter({ prisma: deps.prisma, sql: deps.sql, provider: config.database.provider }, deps.findClient, replayRefusal),
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
      clientAuthSigningAlgValues: [...CLIENT_ASSERTION_ALGS],
      requestObjectSigningAlgValues: [...CLIENT_ASSERTION_ALGS],
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
      // AccessToken and ClientCredentials: per API, in services.ts.
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
  return { name: 'core', configuration };
}

/**
 * The provider of these features: their configuration merged (a setting set twice is an error,
 * feature.ts), then, feature by feature in list order, `install` and each `middleware`.
 */
export function createProvider(config: GatehouseConfig, features: Feature[]): Provider {
  const provider = new Provider(config.issuer, mergeConfigurations(features));
  provider.proxy = config.trustProxy;
  for (const feature of features) {
    feature.install?.(provider);
    for (const middleware of feature.middleware?.(provider) ?? []) provider.use(middleware);
  }
  return provider;
}
