// Redis as the rate-limit store: instances share one count, and Redis going away never stops
// requests being served; the limits then hold per instance, in memory, until Redis is back.
// Outages are staged on a private redis-server child process, never on the machine's Redis.
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { deleteRedisKeys, privateRedis, redisKeys, SHARED_REDIS_URL, uniqueRedisPrefix, type PrivateRedis } from '../support/redis.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';

const ORDERS = 'https://api.example.com/orders';

async function scrape(gh: TestGatehouse): Promise<string> {
  return (await fetch(`http://127.0.0.1:${gh.metricsPort}/metrics`)).text();
}

/** Polls for a condition that depends on Redis reconnecting in the background. */
async function eventually(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting: ${what}`);
}

const logged = (gh: TestGatehouse, message: string) => gh.logs.some((line) => line.includes(message));

// Several instances of one deployment run on PostgreSQL (embedded SQLite is one process's file).
describe('two instances on one Redis and one PostgreSQL database', () => {
  const provider = 'postgresql';
  let a: TestGatehouse;
  let b: TestGatehouse;
  let database: TestDatabase;
  const prefix = uniqueRedisPrefix();

  beforeAll(async () => {
    // Two instances of one deployment: one database, one Redis, one key prefix.
    database = await freshDatabase(provider);
    const env = {
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      REQUEST_IP_LIMIT: '6',
      REQUEST_IP_WINDOW: '10m',
      TOKEN_CLIENT_LIMIT: '4',
      TOKEN_CLIENT_WINDOW: '10m',
      TRUST_PROXY: 'true',
    };
    a = await startGatehouse(provider, env, database);
    b = await startGatehouse(provider, env, database);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await database?.drop();
    await deleteRedisKeys(SHARED_REDIS_URL, prefix);
  });

  test('requests from one address spend one count, whichever instance answers', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.10' };
    const remaining: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${(i % 2 ? b : a).url}/jwks`, { headers });
      expect(res.status).toBe(200);
      remaining.push(res.headers.get('ratelimit-remaining')!);
    }
    expect(remaining).toEqual(['5', '4', '3', '2', '1', '0']);
    for (const gh of [a, b]) {
      const refused = await fetch(`${gh.url}/jwks`, { headers });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toEqual(expect.any(String));
    }
    expect((await redisKeys(SHARED_REDIS_URL, prefix)).get(`${prefix}rl:request-ip:203.0.113.10`)).toBe('8');
  });

  test("a client's token budget is shared too", async () => {
    await createApi(a.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const { client, clientSecret } = await createClient(a.db.prisma, {
      name: 'billing',
      profile: 'service',
      apis: [{ identifier: ORDERS, scopes: ['orders:read'] }],
      default_api: ORDERS,
    });
    const auth = basicAuth(client.client_id, clientSecret!);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const gh = i % 2 ? b : a;
      const res = await postForm(endpoints(gh).token, { grant_type: 'client_credentials' }, { authorization: auth, 'x-forwarded-for': `203.0.113.${20 + i}` });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
  });
});

describe('Redis stopped mid-test', () => {
  let redis: PrivateRedis;
  let gh: TestGatehouse;
  const prefix = uniqueRedisPrefix();
  const address = { 'x-forwarded-for': '203.0.113.50' };
  const jwks = () => fetch(`${gh.url}/jwks`, { headers: address });

  beforeAll(async () => {
    redis = await privateRedis();
    gh = await startGatehouse('sqlite', { REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, REQUEST_IP_LIMIT: '4', REQUEST_IP_WINDOW: '10m', TRUST_PROXY: 'true' });
  });
  afterAll(async () => {
    await gh.close();
    await redis.stop();
  });

  test('requests keep being served, limited in memory, and counts are shared again when Redis is back', async () => {
    const key = `${prefix}rl:request-ip:203.0.113.50`;
    const first = await jwks();
    expect(first.status).toBe(200);
    expect(first.headers.get('ratelimit-remaining')).toBe('3');
    expect((await redisKeys(redis.url, prefix)).get(key)).toBe('1');
    expect(await scrape(gh)).toMatch(/^gatehouse_rate_limit_store_shared 1$/m);

    await redis.stop();
    await eventually(() => logged(gh, 'Redis unreachable: rate limits fall back to in-memory counts'), 'the fallback to be logged');

    // Served, with headers, counted from zero in this instance's memory...
    const during: Response[] = [];
    for (let i = 0; i < 4; i++) during.push(await jwks());
    expect(during.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(during.map((r) => r.headers.get('ratelimit-remaining'))).toEqual(['3', '2', '1', '0']);
    // ...and still limited.
    const refused = await jwks();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toEqual(expect.any(String));
    expect(await scrape(gh)).toMatch(/^gatehouse_rate_limit_store_shared 0$/m);
    // Other endpoints work throughout: the database does not depend on Redis.
    expect((await fetch(`${gh.url}/.well-known/openid-configuration`)).status).toBe(200);

    await redis.start();
    await eventually(() => logged(gh, 'Redis reachable again'), 'the reconnection to be logged');
    // Back in Redis (which lost its data: it runs without persistence).
    const after = await jwks();
    expect(after.status).toBe(200);
    expect(after.headers.get('ratelimit-remaining')).toBe('3');
    expect((await redisKeys(redis.url, prefix)).get(key)).toBe('1');
    expect(await scrape(gh)).toMatch(/^gatehouse_rate_limit_store_shared 1$/m);

    // Shutting down closes the connection without reporting an outage.
    await gh.stop();
    expect(gh.logs.filter((line) => line.includes('Redis unreachable'))).toHaveLength(1);
  });
});

describe('Redis unreachable at start-up', () => {
  test('the server starts, serves and limits in memory, and says why', async () => {
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    const gh = await startGatehouse('sqlite', { REDIS_URL: nobody, REQUEST_IP_LIMIT: '2', REQUEST_IP_WINDOW: '10m' });
    try {
      expect(gh.rateLimits.kind).toBe('redis');
      expect(gh.rateLimits.shared()).toBe(false);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await fetch(`${gh.url}/jwks`)).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect(logged(gh, 'Redis not reachable at start-up')).toBe(true);
      // The log names where Redis was expected, never a URL that might carry a password.
      expect(gh.logs.join('')).not.toContain('redis://');
    } finally {
      await gh.close();
    }
  });
});
