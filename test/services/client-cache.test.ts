// CLIENT_CACHE_TTL: client metadata and successful secret checks are reused within one process,
// and every change reaches the token endpoint once the TTL has passed. Driven over HTTP; the
// waits are the documented bound, and nothing asserts how fast anything is.
import { createApi } from '../../src/clients/apis.js';
import { createClient, rotateClientSecret, setClientDisabled } from '../../src/clients/registry.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const ORDERS = 'https://api.example.com/orders';
const TTL_SECONDS = 1;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Longer than the TTL, so every cached entry made before it has expired. */
const pastTtl = () => sleep(TTL_SECONDS * 1000 + 300);

describe('client cache (CLIENT_CACHE_TTL)', () => {
  const gh = useGatehouse('sqlite', { CLIENT_CACHE_TTL: `${TTL_SECONDS}s` });
  let tokenUrl: string;

  beforeAll(async () => {
    tokenUrl = endpoints(gh).token;
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'], access_token_ttl: 600 });
  });

  async function serviceClient() {
    const created = await createClient(gh.db.prisma, { name: 'cached', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    return { id: created.client.client_id, secret: created.clientSecret! };
  }
  const clientCredentials = (id: string, secret: string) => postForm(tokenUrl, { grant_type: 'client_credentials' }, { authorization: basicAuth(id, secret) });

  test('a disabled client is refused once CLIENT_CACHE_TTL has passed, and served again after enabling', async () => {
    const client = await serviceClient();
    expect((await clientCredentials(client.id, client.secret)).status).toBe(200);
    await setClientDisabled(gh.db.prisma, client.id, true);
    await pastTtl();
    const refused = await clientCredentials(client.id, client.secret);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    // A refusal is not cached: enabling takes effect at the next request.
    await setClientDisabled(gh.db.prisma, client.id, false);
    expect((await clientCredentials(client.id, client.secret)).status).toBe(200);
  });

  test('after a rotation without overlap the new secret works at once and the old one is refused after the TTL', async () => {
    const client = await serviceClient();
    expect((await clientCredentials(client.id, client.secret)).status).toBe(200);
    const { clientSecret: next } = await rotateClientSecret(gh.db.prisma, client.id, { overlapSeconds: 0 });
    expect((await clientCredentials(client.id, next)).status).toBe(200);
    await pastTtl();
    expect((await clientCredentials(client.id, client.secret)).status).toBe(401);
    expect((await clientCredentials(client.id, next)).status).toBe(200);
  });

  test('a wrong secret is refused even while the right one is cached', async () => {
    const client = await serviceClient();
    expect((await clientCredentials(client.id, client.secret)).status).toBe(200);
    const wrong = `ghs_${'A'.repeat(43)}`;
    expect((await clientCredentials(client.id, wrong)).status).toBe(401);
    expect((await clientCredentials(client.id, client.secret)).status).toBe(200);
  });
});
