// Client metadata validation: profile defaults, consistency rules, and errors that name the field.
// Pure validation (no database), shared by the registry, the CLI and the seed.
import { generateKeyPairSync } from 'node:crypto';
import { z } from 'zod';
import { clientInputSchema, type ClientInput } from '../../src/clients/metadata.js';
import { formatZodIssues } from '../../src/util/validation.js';

function problems(input: unknown): string[] {
  const result = clientInputSchema.safeParse(input);
  return result.success ? [] : formatZodIssues(result.error);
}

function parse(input: ClientInput) {
  const result = clientInputSchema.safeParse(input);
  if (!result.success) throw new Error(formatZodIssues(result.error).join('\n'));
  return result.data;
}

const web: ClientInput = { name: 'Web', profile: 'web', redirect_uris: ['https://app.example.com/callback'] };

function rsaPublicJwk(bits: number) {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
}

describe('profile defaults', () => {
  test('web: confidential, code + refresh, client_secret_basic, sign-in scopes', () => {
    expect(parse(web)).toMatchObject({
      type: 'confidential',
      application_type: 'web',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: ['openid', 'profile', 'email', 'offline_access'],
      first_party: false,
      default_api: null,
    });
  });

  test('spa and native: public, auth method none; native is a native application_type', () => {
    expect(parse({ ...web, profile: 'spa' })).toMatchObject({ type: 'public', token_endpoint_auth_method: 'none', application_type: 'web' });
    expect(parse({ name: 'App', profile: 'native', redirect_uris: ['com.example.app:/callback'] })).toMatchObject({
      type: 'public',
      token_endpoint_auth_method: 'none',
      application_type: 'native',
      grant_types: ['authorization_code', 'refresh_token'],
    });
  });

  test('service: confidential, client_credentials only, no redirect URIs, no OIDC scopes', () => {
    expect(parse({ name: 'Svc', profile: 'service' })).toMatchObject({
      type: 'confidential',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: [],
      token_endpoint_auth_method: 'client_secret_basic',
    });
  });

  test('device: public, device_code + refresh_token', () => {
    expect(parse({ name: 'TV', profile: 'device' })).toMatchObject({
      type: 'public',
      token_endpoint_auth_method: 'none',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
    });
  });

  test('offline_access is offered by default only with the refresh_token grant', () => {
    expect(parse({ ...web, grant_types: ['authorization_code'] }).scope).toEqual(['openid', 'profile', 'email']);
  });
});

describe('errors name the field', () => {
  test('unknown fields are refused by name', () => {
    expect(problems({ ...web, nickname: 'x', logo_uri: 'https://x' })).toEqual([
      'nickname: is not a recognised field',
      'logo_uri: is not a recognised field',
    ]);
  });

  test('missing and mistyped fields', () => {
    expect(problems({ profile: 'web' })).toEqual(expect.arrayContaining([expect.stringMatching(/^name: /)]));
    expect(problems({ name: 'x', profile: 'mainframe' })).toEqual(['profile: must be one of web, spa, native, service, device, resource-server']);
    expect(problems({ ...web, first_party: 'yes' })).toEqual(['first_party: must be true or false']);
  });

  test('lengths are bounded', () => {
    expect(problems({ ...web, name: 'x'.repeat(201) })).toEqual(['name: must be at most 200 characters']);
    expect(problems({ ...web, redirect_uris: Array.from({ length: 21 }, (_, i) => `https://a.example/${i}`) })).toEqual([
      'redirect_uris: must have at most 20 entries',
    ]);
  });

  test('formatZodIssues renders nested paths', () => {
    const schema = z.object({ apis: z.array(z.object({ scopes: z.array(z.string()) })) });
    const result = schema.safeParse({ apis: [{ scopes: ['a', 3] }] });
    expect(result.success).toBe(false);
    if (!result.success) expect(formatZodIssues(result.error)).toEqual([expect.stringMatching(/^apis\[0\]\.scopes\[1\]: /)]);
  });
});

describe('redirect URIs', () => {
  test.each([
    ['/callback', 'redirect_uris[0]: must be an absolute URL'],
    ['https://app.example.com/cb#frag', 'redirect_uris[0]: must not contain a fragment (#)'],
    ['http://app.example.com/cb', 'redirect_uris[0]: must use https (http is allowed only for loopback hosts: 127.0.0.1, [::1], localhost)'],
    ['https://user:pw@app.example.com/cb', 'redirect_uris[0]: must not contain user information'],
    ['javascript:alert(1)', 'redirect_uris[0]: must be an https URL'],
    ['com.example.app:/cb', 'redirect_uris[0]: must be an https URL'],
  ])('web refuses %s', (uri, message) => {
    expect(problems({ ...web, redirect_uris: [uri] })).toEqual([message]);
  });

  test('web and spa accept https and http loopback', () => {
    for (const uri of ['https://app.example.com/cb', 'http://127.0.0.1:8080/cb', 'http://localhost:3000/cb', 'http://[::1]/cb']) {
      expect(problems({ ...web, redirect_uris: [uri] })).toEqual([]);
      expect(problems({ ...web, profile: 'spa', redirect_uris: [uri] })).toEqual([]);
    }
  });

  test('native accepts claimed https, loopback IP literals and reverse-domain private-use schemes (RFC 8252)', () => {
    for (const uri of ['https://app.example.com/cb', 'http://127.0.0.1/cb', 'http://[::1]:51000/cb', 'com.example.app:/oauth2redirect']) {
      expect(problems({ name: 'n', profile: 'native', redirect_uris: [uri] })).toEqual([]);
    }
  });

  test.each([
    ['http://localhost:8080/cb', /not localhost \(RFC 8252 §8\.3\)/],
    ['myapp:/cb', /reverse domain name form/],
    ['http://app.example.com/cb', /loopback address/],
    ['https://127.0.0.1/cb', /must use http, not https/],
    ['javascript:alert(1)', /must not use the javascript scheme/],
    ['file:///etc/passwd', /must not use the file scheme/],
  ])('native refuses %s', (uri, message) => {
    const [problem] = problems({ name: 'n', profile: 'native', redirect_uris: [uri] });
    expect(problem).toMatch(/^redirect_uris\[0\]: /);
    expect(problem).toMatch(message);
  });

  test('the authorization code grant needs a redirect URI; services cannot have one', () => {
    expect(problems({ name: 'w', profile: 'web' })).toEqual(['redirect_uris: must contain at least one URI for the authorization_code grant']);
    expect(problems({ name: 's', profile: 'service', redirect_uris: ['https://x.example/cb'] })).toEqual([
      'redirect_uris: is only used with the authorization_code grant, which service clients here do not have',
    ]);
  });

  test('post-logout redirect URIs follow the same rules', () => {
    expect(problems({ ...web, post_logout_redirect_uris: ['http://evil.example/'] })).toEqual([
      expect.stringMatching(/^post_logout_redirect_uris\[0\]: must use https/),
    ]);
  });

  test('duplicates are refused', () => {
    expect(problems({ ...web, redirect_uris: ['https://a.example/cb', 'https://a.example/cb'] })).toEqual(['redirect_uris[1]: is listed twice']);
  });
});

describe('grant types and authentication methods', () => {
  test('auth method must match the client type', () => {
    expect(problems({ ...web, profile: 'spa', token_endpoint_auth_method: 'client_secret_basic' })).toEqual([
      expect.stringMatching(/^token_endpoint_auth_method: must be none for spa clients/),
    ]);
    expect(problems({ name: 's', profile: 'service', token_endpoint_auth_method: 'none' })).toEqual([
      expect.stringMatching(/^token_endpoint_auth_method: must be client_secret_basic, client_secret_post or private_key_jwt/),
    ]);
  });

  test('client_secret_jwt is not offered (secrets are hashed)', () => {
    expect(problems({ name: 's', profile: 'service', token_endpoint_auth_method: 'client_secret_jwt' })).toEqual([
      expect.stringMatching(/^token_endpoint_auth_method: .*client_secret_jwt is not supported/),
    ]);
  });

  test('implicit and password grants do not exist here; client credentials is for confidential clients', () => {
    expect(problems({ ...web, grant_types: ['authorization_code', 'password'] })[0]).toMatch(/^grant_types\[1\]: must be one of/);
    expect(problems({ ...web, grant_types: ['implicit'] })[0]).toMatch(/^grant_types\[0\]: must be one of/);
    expect(problems({ ...web, profile: 'spa', grant_types: ['authorization_code', 'client_credentials'] })).toEqual([
      'grant_types[1]: "client_credentials" is not available to spa clients (allowed: authorization_code, refresh_token)',
    ]);
    expect(problems({ name: 's', profile: 'service', grant_types: ['client_credentials', 'authorization_code'], redirect_uris: ['https://a.example/cb'] })).toContain(
      'grant_types[1]: "authorization_code" is not available to service clients (allowed: client_credentials)',
    );
  });

  test('refresh_token alone is refused', () => {
    expect(problems({ ...web, grant_types: ['refresh_token'] })).toEqual(
      expect.arrayContaining(['grant_types: must include authorization_code for web clients']),
    );
  });

  test('private_key_jwt needs a JWKS of public keys; other methods take none', () => {
    expect(problems({ name: 's', profile: 'service', token_endpoint_auth_method: 'private_key_jwt' })).toEqual([
      'jwks: is required with token_endpoint_auth_method private_key_jwt',
    ]);
    const jwk = rsaPublicJwk(2048);
    expect(problems({ name: 's', profile: 'service', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } })).toEqual([]);
    expect(problems({ name: 's', profile: 'service', jwks: { keys: [jwk] } })).toEqual([
      'jwks: is only used with token_endpoint_auth_method private_key_jwt',
    ]);
  });

  test('a private key, a short RSA key or a symmetric key is refused', () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const privateJwk = privateKey.export({ format: 'jwk' });
    const base = { name: 's', profile: 'service', token_endpoint_auth_method: 'private_key_jwt' } as const;
    expect(problems({ ...base, jwks: { keys: [privateJwk] } })).toEqual(
      expect.arrayContaining(['jwks.keys[0].d: is private key material: register the public key only']),
    );
    expect(problems({ ...base, jwks: { keys: [rsaPublicJwk(1024)] } })).toEqual(['jwks.keys[0].n: must be an RSA modulus of at least 2048 bits']);
    expect(problems({ ...base, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } })).toEqual(
      expect.arrayContaining(['jwks.keys[0].kty: must be RSA, EC or OKP (symmetric keys are not accepted)']),
    );
    expect(problems({ ...base, jwks: { keys: [{ ...rsaPublicJwk(2048), alg: 'HS256' }] } })).toEqual([
      'jwks.keys[0].alg: must be one of RS256, PS256, ES256, EdDSA',
    ]);
  });
});

describe('CORS origins, scopes and APIs', () => {
  test('origins are bare origins, https except loopback, and only for browser apps', () => {
    expect(problems({ ...web, cors_origins: ['https://app.example.com/'] })[0]).toMatch(/^cors_origins\[0\]: must be an origin/);
    expect(problems({ ...web, cors_origins: ['http://app.example.com'] })).toEqual(['cors_origins[0]: must use https (http is allowed only for loopback hosts)']);
    expect(problems({ ...web, cors_origins: ['https://app.example.com', 'http://localhost:5173'] })).toEqual([]);
    expect(problems({ name: 's', profile: 'service', cors_origins: ['https://app.example.com'] })).toEqual([
      'cors_origins: is only for browser-based clients (profile web or spa), not service',
    ]);
  });

  test('OIDC scopes: known values, needed for sign-in, absent for services', () => {
    expect(problems({ ...web, scope: ['openid', 'admin'] })[0]).toMatch(/^scope\[1\]: must be one of openid, profile, email, offline_access/);
    expect(problems({ ...web, scope: [] })).toEqual(['scope: must name at least one OpenID Connect scope (for example openid)']);
    expect(problems({ name: 's', profile: 'service', scope: ['openid'] })).toEqual([
      'scope: must be empty: service clients act for themselves, not for a person',
    ]);
  });

  test('a resource server stands for one API (default_api), gets no grants and lists no APIs', () => {
    const rs = { name: 'rs', profile: 'resource-server', default_api: 'https://api.example.com' };
    expect(problems(rs)).toEqual([]);
    expect(problems({ name: 'rs', profile: 'resource-server' })).toEqual(['default_api: is required for resource-server clients: the API this client stands for']);
    expect(problems({ ...rs, apis: [{ identifier: 'https://api.example.com', scopes: [] }] })).toEqual([
      'apis: must be empty: a resource-server client gets no tokens (its API is default_api)',
    ]);
    expect(problems({ ...rs, grant_types: ['client_credentials'] })).toEqual([
      'grant_types[0]: "client_credentials" is not available to resource-server clients (they get no tokens)',
    ]);
    expect(problems({ ...rs, token_endpoint_auth_method: 'none' })).toEqual([expect.stringMatching(/^token_endpoint_auth_method: must be/)]);
  });

  test('API permissions: scope tokens per RFC 6749 §3.3, each API once, default among them', () => {
    const apis = [{ identifier: 'https://api.example.com', scopes: ['read'] }];
    expect(problems({ name: 's', profile: 'service', apis, default_api: 'https://api.example.com' })).toEqual([]);
    expect(problems({ name: 's', profile: 'service', apis, default_api: 'https://other.example.com' })).toEqual([
      "default_api: must be the identifier of one of the client's apis",
    ]);
    expect(problems({ name: 's', profile: 'service', apis: [...apis, ...apis] })).toEqual(['apis[1].identifier: is listed twice']);
    expect(problems({ name: 's', profile: 'service', apis: [{ identifier: 'https://api.example.com', scopes: ['has space'] }] })[0]).toMatch(
      /^apis\[0\]\.scopes\[0\]: must be a scope token/,
    );
    expect(problems({ name: 's', profile: 'service', apis: [{ identifier: 'https://api.example.com', scopes: ['read'], extra: 1 }] })).toEqual([
      'apis[0].extra: is not a recognised field',
    ]);
  });
});
