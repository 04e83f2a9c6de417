// A plain OAuth 2.0 upstream (GitHub style): the same kind of real Gatehouse instance, configured
// at the broker by its authorization and token endpoints, asked for an API scope and no `openid`
// (so no ID token, no nonce), with the person read from a user API by a stable id field. The user
// API is a small resource server started here, as GitHub's /user is beside its OAuth server: it
// accepts only the upstream's JWT access tokens for it (signature against the upstream's JWKS,
// iss, aud, typ at+jwt) and answers from the upstream's own user store.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createApi } from '../../src/clients/apis.js';
import { createUpstream } from '../../src/upstream/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, exchangeCode, pkcePair, randomToken, registerClient, type TestClient } from '../support/signin.js';
import { consentIfAsked, expectAway, expectPageStop, KEK, signInUpstream, startUpstreamGatehouse, TwoSiteBrowser, upstreamLinks, upstreamPerson, callbackUrlOf } from './helpers.js';

const PEOPLE_API = 'urn:upstream:people';

/** GET /user with the upstream's access token: { id, login, email, verified_email }. */
async function startUserApi(upstream: TestGatehouse): Promise<{ server: Server; url: string; requests: string[] }> {
  const jwks = createRemoteJWKSet(new URL(`${upstream.config.issuer}/jwks`));
  const requests: string[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      requests.push(req.url ?? '');
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      try {
        if (req.url !== '/user' || !token) throw new Error('no token');
        const { payload } = await jwtVerify(token, jwks, { issuer: upstream.config.issuer, audience: PEOPLE_API, typ: 'at+jwt', algorithms: ['RS256'] });
        const user = await upstream.db.prisma.user.findUniqueOrThrow({ where: { id: String(payload.sub) } });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: user.id, login: user.name, email: user.email, verified_email: user.emailVerified }));
      } catch {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' });
        res.end();
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/user`, requests };
}

describe.each(PROVIDERS)('a plain OAuth 2.0 upstream (endpoints configured, no openid) on %s', (provider) => {
  let broker: TestGatehouse;
  let upstream: TestGatehouse;
  let userApi: Awaited<ReturnType<typeof startUserApi>>;
  let app: TestClient;
  beforeAll(async () => {
    [broker, upstream] = await Promise.all([startGatehouse(provider), startUpstreamGatehouse(provider)]);
    userApi = await startUserApi(upstream);
    await createApi(upstream.db.prisma, { identifier: PEOPLE_API, name: 'People', scopes: ['people:read'] });
    const atUpstream = await registerClient(upstream, {
      name: 'Gatehouse broker',
      redirect_uris: [callbackUrlOf(broker)],
      first_party: true,
      apis: [{ identifier: PEOPLE_API, scopes: ['people:read'] }],
      default_api: PEOPLE_API,
    });
    await createUpstream(broker.db.prisma, KEK, {
      id: 'hub',
      kind: 'oauth2',
      display_name: 'Hub',
      authorization_endpoint: `${upstream.config.issuer}/auth`,
      token_endpoint: `${upstream.config.issuer}/token`,
      userinfo_endpoint: userApi.url,
      client_id: atUpstream.clientId,
      client_secret: atUpstream.clientSecret!,
      client_auth_method: 'client_secret_post',
      scopes: ['people:read'],
      claims: { subject: 'id', email: 'email', email_verified: 'verified_email', name: 'login' },
      create_users: true,
      trust_email: true,
    });
    app = await registerClient(broker);
  });
  afterAll(async () => {
    await new Promise((resolve) => userApi?.server.close(resolve));
    await Promise.all([broker?.close(), upstream?.close()]);
  });

  const browserFor = () => new TwoSiteBrowser([new URL(broker.config.issuer).origin, new URL(upstream.config.issuer).origin]);

  async function signInThroughHub(email: string) {
    const browser = browserFor();
    const { verifier, challenge } = pkcePair();
    const login = expectPageStop(await browser.get(authorizationUrl(broker, { client: app, state: randomToken(), codeChallenge: challenge })));
    const atHub = await browser.get(new URL(upstreamLinks(login.html).get('Hub')!, broker.config.issuer));
    const away = expectAway(await consentIfAsked(browser, await signInUpstream(browser, upstream, atHub, email)));
    return { browser, away, verifier };
  }

  test('the person is identified by the stable id field of the user API; no openid scope, no nonce, PKCE S256', async () => {
    const person = await upstreamPerson(upstream, { name: 'Katherine Johnson' });
    const { browser, away, verifier } = await signInThroughHub(person.email);
    const request = browser.visited.find((u) => u.origin === new URL(upstream.config.issuer).origin && u.pathname === '/auth')!;
    expect(request.searchParams.get('scope')).toBe('people:read');
    expect(request.searchParams.has('nonce')).toBe(false);
    expect(request.searchParams.get('code_challenge_method')).toBe('S256');
    expect(request.searchParams.get('state')).toBeTruthy();
    expect(userApi.requests).toContain('/user');

    expect((await exchangeCode(broker, app, away.location.searchParams.get('code')!, verifier)).status).toBe(200);
    const user = await broker.db.prisma.user.findUniqueOrThrow({ where: { email: person.email } });
    expect(user).toMatchObject({ name: 'Katherine Johnson', emailVerified: true, passwordHash: null });
    expect(await broker.db.prisma.linkedIdentity.findMany({ where: { userId: user.id } })).toEqual([expect.objectContaining({ upstreamId: 'hub', subject: person.id })]);
  });

  test('an email the provider does not say is verified is not taken as verified', async () => {
    const person = await upstreamPerson(upstream, { verified: false });
    await signInThroughHub(person.email);
    const user = await broker.db.prisma.user.findUniqueOrThrow({ where: { email: person.email } });
    expect(user.emailVerified).toBe(false);
  });

  test('the subject stays with the id: the same person under a changed email at the upstream signs in to the same account', async () => {
    const person = await upstreamPerson(upstream);
    await signInThroughHub(person.email);
    const user = await broker.db.prisma.user.findUniqueOrThrow({ where: { email: person.email } });
    const changed = `changed-${randomToken().toLowerCase()}@example.com`;
    await upstream.db.prisma.user.update({ where: { id: person.id }, data: { email: changed } });
    const { away } = await signInThroughHub(changed);
    expect(away.location.searchParams.get('code')).toBeTruthy();
    expect(await broker.db.prisma.user.count({ where: { email: changed } })).toBe(0);
    expect((await broker.db.prisma.linkedIdentity.findFirstOrThrow({ where: { upstreamId: 'hub', subject: person.id } })).userId).toBe(user.id);
  });
});
