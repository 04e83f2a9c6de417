// What an API or gateway sees with openid-client v6, a relying-party library that knows nothing of
// Gatehouse: a client-credentials JWT introspected (RFC 7662) and revoked (RFC 7009), and
// introspection answered as a signed JWT (RFC 9701) for a resource server registered for it,
// which openid-client verifies against our JWKS (any caller may ask for one; registering the
// alg makes client libraries ask). The same for an opaque token, which
// oidc-provider introspects itself, so both kinds answer in one format.
import { beforeAll, describe, expect, jest, test } from '@jest/globals';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { signInOffline } from '../support/refresh.js';
import { registerClient, registerUser } from '../support/signin.js';
import { useGatehouse } from '../support/use-gatehouse.js';

jest.setTimeout(120_000);

const ORDERS = 'https://api.example.com/orders';
const JWT_MEDIA_TYPE = 'application/token-introspection+jwt';

describe.each(PROVIDERS)('openid-client v6 against Gatehouse on %s', (provider) => {
  const gh = useGatehouse(provider);
  let service: oidc.Configuration;
  let serviceId: string;
  let api: oidc.Configuration;
  let apiAuth: string;
  let apiId: string;
  let plainApiAuth: string;

  // Discovery as a deployment would do it; the test issuer is plain http on loopback.
  const configure = (clientId: string, secret: string, metadata: Partial<oidc.ClientMetadata> = {}) =>
    oidc.discovery(new URL(gh.config.issuer), clientId, metadata, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });

  beforeAll(async () => {
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const worker = await createClient(gh.db.prisma, { name: 'worker', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    serviceId = worker.client.client_id;
    service = await configure(serviceId, worker.clientSecret!);
    const signed = await createClient(gh.db.prisma, { name: 'Orders API', profile: 'resource-server', default_api: ORDERS, introspection_signed_response_alg: 'RS256' });
    expect(signed.client.introspection_signed_response_alg).toBe('RS256');
    // openid-client asks for, and verifies, a JWT response when the client registered an alg.
    api = await configure(signed.client.client_id, signed.clientSecret!, { introspection_signed_response_alg: 'RS256' });
    apiAuth = basicAuth(signed.client.client_id, signed.clientSecret!);
    apiId = signed.client.client_id;
    const plain = await createClient(gh.db.prisma, { name: 'Orders API (plain)', profile: 'resource-server', default_api: ORDERS });
    plainApiAuth = basicAuth(plain.client.client_id, plain.clientSecret!);
  });

  test('discovery lists what RFC 9701 callers need', () => {
    const metadata = api.serverMetadata();
    expect(metadata.introspection_endpoint).toBe(`${gh.config.issuer}/token/introspection`);
    expect(metadata.introspection_signing_alg_values_supported).toContain('RS256');
  });

  test('clientCredentialsGrant, tokenIntrospection and tokenRevocation work on a client-credentials JWT', async () => {
    const tokens = await oidc.clientCredentialsGrant(service, { scope: 'orders:read' });
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe('at+jwt');

    const own = await oidc.tokenIntrospection(service, tokens.access_token);
    expect(own).toMatchObject({ active: true, client_id: serviceId, sub: serviceId, aud: ORDERS, scope: 'orders:read', token_type: 'Bearer' });
    const asApi = await oidc.tokenIntrospection(api, tokens.access_token, { token_type_hint: 'access_token' });
    expect(asApi).toMatchObject({ active: true, client_id: serviceId, aud: ORDERS, iss: gh.config.issuer });

    await oidc.tokenRevocation(service, tokens.access_token);
    expect(await oidc.tokenIntrospection(api, tokens.access_token)).toEqual({ active: false });
    expect(await oidc.tokenIntrospection(service, tokens.access_token)).toEqual({ active: false });
    // RFC 7009 §2.2: revoking again is not an error.
    await expect(oidc.tokenRevocation(service, tokens.access_token)).resolves.toBeUndefined();
  });

  test('a resource server registered for RFC 9701 gets a signed JWT for JWT and opaque tokens alike; JSON otherwise', async () => {
    const { access_token: jwt } = await oidc.clientCredentialsGrant(service, { scope: 'orders:read' });
    const url = endpoints(gh).introspection;
    const keys = createRemoteJWKSet(new URL(endpoints(gh).jwks));
    const signedAnswer = async (token: string) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: JWT_MEDIA_TYPE, authorization: apiAuth },
        body: new URLSearchParams({ token }).toString(),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(`${JWT_MEDIA_TYPE}; charset=utf-8`);
      // RFC 9701 §5: typ, iss, aud (the caller), iat and the answer as token_introspection.
      const { payload, protectedHeader } = await jwtVerify(await res.text(), keys, { issuer: gh.config.issuer, typ: 'token-introspection+jwt', algorithms: ['RS256'] });
      expect(protectedHeader.kid).toBeDefined();
      return payload;
    };

    const forJwt = await signedAnswer(jwt);
    expect(forJwt.token_introspection).toMatchObject({ active: true, client_id: serviceId, aud: ORDERS, exp: decodeJwt(jwt).exp });
    // RFC 9701 §5: the response's audience is the resource server that asked.
    expect(forJwt.aud).toBe(apiId);

    // An opaque token goes through oidc-provider's own introspection and answers in the same format.
    const web = await registerClient(gh);
    const user = await registerUser(gh);
    const opaque = (await signInOffline(gh, web, user.email, 'openid offline_access')).refreshToken;
    const forOpaque = await signedAnswer(opaque);
    expect(forOpaque.token_introspection).toEqual({ active: false });
    const forUnknown = await signedAnswer('no-such-token');
    expect(forUnknown.token_introspection).toEqual({ active: false });
    expect(Object.keys(forUnknown).sort()).toEqual(Object.keys(forOpaque).sort());

    // Without the Accept header: plain JSON (RFC 9701 §4: the caller asks for the JWT).
    const json = await postForm(url, { token: jwt }, { authorization: apiAuth });
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json.body).toMatchObject({ active: true, client_id: serviceId });
    // oidc-provider's default alg (RS256) lets any authenticated caller that asks have one too.
    const unregistered = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: JWT_MEDIA_TYPE, authorization: plainApiAuth },
      body: new URLSearchParams({ token: jwt }).toString(),
    });
    expect(decodeJwt(await unregistered.text()).token_introspection).toMatchObject({ active: true, client_id: serviceId });
  });
});
