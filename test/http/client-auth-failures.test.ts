// Failed client authentications have a budget of their own, per client and address: a stranger
// naming a client's client_id with wrong secrets cannot spend the client's own budget on the
// token endpoint or at introspection, and so cannot lock a service out. The per-client limits
// still bound the client itself. Run with the memory store and with Redis.
import { createHash } from 'node:crypto';
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import type { Provider } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { deleteRedisKeys, SHARED_REDIS_URL, uniqueRedisPrefix } from '../support/redis.js';
import { auditRows } from '../support/signin.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { addressesIn, from } from '../support/addresses.js';

const ORDERS = 'https://api.example.com/orders';
const STORES: ['memory' | 'redis', Provider][] = [
  ['memory', 'sqlite'],
  ['redis', 'postgresql'],
];

/** A documentation address (RFC 5737) no other test in this file uses. */
const newAddress = addressesIn('203.0.113');
const WRONG_SECRET = `ghs_${'x'.repeat(43)}`;

describe.each(STORES)('failed client authentication with the %s store on %s', (store, provider) => {
  let gh: TestGatehouse;
  let url: ReturnType<typeof endpoints>;
  const prefix = uniqueRedisPrefix();

  beforeAll(async () => {
    gh = await startGatehouse(provider, {
      TRUST_PROXY: 'true',
      TOKEN_CLIENT_LIMIT: '3',
      TOKEN_CLIENT_WINDOW: '10m',
      INTROSPECTION_CLIENT_LIMIT: '3',
      INTROSPECTION_CLIENT_WINDOW: '10m',
      CLIENT_AUTH_FAILURE_LIMIT: '4',
      CLIENT_AUTH_FAILURE_WINDOW: '10m',
      ...(store === 'redis' ? { REDIS_URL: SHARED_REDIS_URL, REDIS_KEY_PREFIX: prefix } : {}),
    });
    url = endpoints(gh);
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
  });
  afterAll(async () => {
    await gh.close();
    if (store === 'redis') await deleteRedisKeys(SHARED_REDIS_URL, prefix);
  });

  const serviceClient = async () => {
    const { client, clientSecret } = await createClient(gh.db.prisma, {
      name: 'billing',
      profile: 'service',
      apis: [{ identifier: ORDERS, scopes: ['orders:read'] }],
      default_api: ORDERS,
    });
    return { id: client.client_id, auth: basicAuth(client.client_id, clientSecret!) };
  };

  test.each([
    ['token', () => url.token, { grant_type: 'client_credentials', scope: 'orders:read' }],
    ['introspection', () => url.introspection, { token: 'no-such-token' }],
  ])("finding 15.7: wrong secrets from one address do not spend the client's %s budget", async (endpoint, endpointUrl, form) => {
    const service = await serviceClient();
    const stranger = newAddress();
    // The stranger gets 4 answers of invalid_client, then 429 for this client from that address.
    for (let i = 0; i < 10; i++) {
      const guess = await postForm(endpointUrl(), form, { authorization: basicAuth(service.id, WRONG_SECRET), ...from(stranger) });
      expect({ i, status: guess.status }).toEqual({ i, status: i < 4 ? 401 : 429 });
      if (i < 4) expect(guess.body.error).toBe('invalid_client');
      else expect([guess.body.error, guess.headers.get('ratelimit-limit')]).toEqual(['temporarily_unavailable', '4']);
    }
    // Another address has a failure budget of its own for the same client.
    const other = await postForm(endpointUrl(), form, { authorization: basicAuth(service.id, WRONG_SECRET), ...from(newAddress()) });
    expect(other.status).toBe(401);
    // The real client, from its own address, still has its whole budget, and it still ends.
    const own = newAddress();
    for (let i = 0; i < 3; i++) {
      const res = await postForm(endpointUrl(), form, { authorization: service.auth, ...from(own) });
      expect({ i, status: res.status }).toEqual({ i, status: 200 });
      expect(res.headers.get('ratelimit-remaining')).toBe(String(2 - i));
    }
    expect((await postForm(endpointUrl(), form, { authorization: service.auth, ...from(own) })).status).toBe(429);

    const rows = await auditRows(gh, 'rate_limit.exceeded', { clientId: service.id }, 2);
    expect(rows.map((row) => (row.details as { policy: string }).policy).sort()).toEqual(['client-auth-failure', `${endpoint}-client`]);
    expect(rows.find((row) => (row.details as { policy: string }).policy === 'client-auth-failure')).toMatchObject({ ip: stranger });
  });

  test('finding 24.7: a client_id over 128 characters and the literal client_id of its hashed key are counted apart', async () => {
    const long = `c${'x'.repeat(200)}`;
    const literal = `sha256:${createHash('sha256').update(long).digest('base64url')}`;
    const address = newAddress();
    const attempt = (clientId: string) =>
      postForm(url.token, { grant_type: 'client_credentials' }, { authorization: basicAuth(clientId, WRONG_SECRET), ...from(address) });
    for (let i = 0; i < 4; i++) expect((await attempt(long)).status).toBe(401);
    expect((await attempt(long)).status).toBe(429);
    // The literal id has a failure budget of its own, all of it.
    for (let i = 0; i < 4; i++) expect({ i, status: (await attempt(literal)).status }).toEqual({ i, status: 401 });
    expect((await attempt(literal)).status).toBe(429);
  });

  test('finding 15.7: a successful authentication does not count as a failure', async () => {
    const service = await serviceClient();
    const address = newAddress();
    for (let i = 0; i < 3; i++) {
      const guess = await postForm(url.introspection, { token: 'x' }, { authorization: basicAuth(service.id, WRONG_SECRET), ...from(address) });
      expect(guess.status).toBe(401);
    }
    // Successes from the same address leave the failure budget where it was: one more failure
    // is answered, the next is refused.
    for (let i = 0; i < 2; i++) expect((await postForm(url.token, { grant_type: 'client_credentials' }, { authorization: service.auth, ...from(address) })).status).toBe(200);
    expect((await postForm(url.token, { grant_type: 'client_credentials' }, { authorization: basicAuth(service.id, WRONG_SECRET), ...from(address) })).status).toBe(401);
    const refused = await postForm(url.token, { grant_type: 'client_credentials' }, { authorization: basicAuth(service.id, WRONG_SECRET), ...from(address) });
    expect(refused.status).toBe(429);
    // Refused by the failure budget (4), not the client's token budget (3, one point left).
    expect(refused.headers.get('ratelimit-limit')).toBe('4');
  });
});
