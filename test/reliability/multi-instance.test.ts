// Two Gatehouse processes of one deployment (issue 9, item 1): one PostgreSQL database, one
// Redis, one ISSUER, one KEY_ENCRYPTION_SECRET, each on its own port. What one instance issues
// the other honours; refresh-token reuse is detected across them; a per-client rate limit is
// one budget for both; a key rotated with the CLI reaches both without a restart. Started at
// the same moment on an empty database, they make exactly one set of first keys.
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { deriveKeyEncryptionKey } from '../../src/keys/encryption.js';
import { ensureInitialKeys } from '../../src/keys/signing-keys.js';
import { basicAuth, postForm } from '../support/oauth-http.js';
import { refresh } from '../support/refresh.js';
import { cliFor } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { freePort, TEST_KEY_ENCRYPTION_SECRET } from '../support/gatehouse.js';
import { spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { deleteRedisKeys, SHARED_REDIS_URL, uniqueRedisPrefix } from '../support/redis.js';
import { createUser } from '../../src/accounts/users.js';
import { PASSWORD, TestBrowser, authorizeAndSignIn, authorizationUrl, exchangeCode, pkcePair, registerClient, type TestClient } from '../support/signin.js';
import { report, sleep, viewOf } from './helpers.js';

const ORDERS = 'https://api.example.com/orders';

describe.each(PROVIDERS)('first start racing on an empty %s database', (provider) => {
  test('eight concurrent first starts leave exactly one signing key and one cookie key', async () => {
    const database = await freshDatabase(provider);
    const kek = deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET);
    // Separate clients (separate pools, on SQLite separate connections), as separate processes have.
    const dbs: Database[] = await Promise.all(Array.from({ length: 8 }, () => openDatabase(database.url)));
    try {
      await Promise.all(dbs.map((db) => ensureInitialKeys(db.prisma, kek)));
      expect(await dbs[0]!.prisma.signingKey.count()).toBe(1);
      expect(await dbs[0]!.prisma.cookieKey.count()).toBe(1);
      // A later start changes nothing.
      await ensureInitialKeys(dbs[1]!.prisma, kek);
      expect(await dbs[0]!.prisma.signingKey.count()).toBe(1);
    } finally {
      await Promise.all(dbs.map((db) => db.close()));
      await database.drop();
    }
  });
});

describe('two instances sharing PostgreSQL and Redis', () => {
  let database: TestDatabase;
  let db: Database;
  let a: GatehouseProcess;
  let b: GatehouseProcess;
  const prefix = uniqueRedisPrefix();
  let issuer: string;
  let web: TestClient;
  let email: string;

  const jwksOf = async (p: GatehouseProcess) => (await (await fetch(`${p.url}/jwks`)).json()) as JSONWebKeySet;
  const serviceClient = async (name: string) => {
    const created = await createClient(db.prisma, { name, profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    return { id: created.client.client_id, secret: created.clientSecret! };
  };
  const clientCredentials = (p: GatehouseProcess, client: { id: string; secret: string }) =>
    postForm(`${p.url}/token`, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basicAuth(client.id, client.secret) });

  beforeAll(async () => {
    database = await freshDatabase('postgresql');
    db = await openDatabase(database.url);
    const portA = await freePort();
    issuer = `http://127.0.0.1:${portA}`;
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: SHARED_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      // One issuer for the deployment: tokens name it whichever instance signed them.
      ISSUER: issuer,
      TOKEN_CLIENT_LIMIT: '6',
      REFRESH_TOKEN_REUSE_GRACE: '0',
      KEY_REFRESH_INTERVAL: '1',
    };
    // Both start at the same moment on a database without keys.
    [a, b] = await Promise.all([spawnGatehouse({ env, port: portA }), spawnGatehouse({ env })]);
    await createApi(db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    web = await registerClient(viewOf(issuer, db.prisma));
    email = `multi-${Date.now()}@example.com`;
    await createUser(db.prisma, { email, name: 'Grace', password: PASSWORD, email_verified: true });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.close();
    await database?.drop();
    await deleteRedisKeys(SHARED_REDIS_URL, prefix);
  });

  test('started together on an empty database: one signing key, one cookie key, one JWKS', async () => {
    expect(await db.prisma.signingKey.count()).toBe(1);
    expect(await db.prisma.cookieKey.count()).toBe(1);
    expect(await jwksOf(a)).toEqual(await jwksOf(b));
  });

  test('a code issued through A redeems at B; the session cookie A set is honoured by B', async () => {
    const browser = new TestBrowser(viewOf(a.url, db.prisma));
    const { callback, verifier, nonce } = await authorizeAndSignIn(viewOf(a.url, db.prisma), browser, web, email);
    expect(callback.iss).toBe(issuer);
    const tokens = await exchangeCode(viewOf(b.url, db.prisma), web, callback.code!, verifier);
    expect(tokens.status).toBe(200);
    const { payload } = await jwtVerify(tokens.body.id_token as string, createLocalJWKSet(await jwksOf(b)), { issuer, audience: web.clientId });
    expect(payload.nonce).toBe(nonce);

    // The same browser at B: signed in already (the cookie keys are shared), straight back.
    const atB = Object.assign(new TestBrowser(viewOf(b.url, db.prisma)), { jar: browser.jar });
    const again = await atB.get(authorizationUrl(viewOf(b.url, db.prisma), { client: web, codeChallenge: pkcePair().challenge, state: 'b' }));
    expect(again.kind).toBe('redirect');
  });

  test('a refresh token rotated at A and presented again at B revokes the grant', async () => {
    const browser = new TestBrowser(viewOf(a.url, db.prisma));
    const viewA = viewOf(a.url, db.prisma);
    const { callback, verifier } = await authorizeAndSignIn(viewA, browser, web, email, { scope: 'openid offline_access', extra: { prompt: 'consent' } });
    const first = await exchangeCode(viewA, web, callback.code!, verifier);
    const tokenA = first.body.refresh_token as string;
    const rotated = await refresh(viewA, web, tokenA);
    expect(rotated.status).toBe(200);
    const tokenB = rotated.body.refresh_token as string;

    const reuse = await refresh(viewOf(b.url, db.prisma), web, tokenA);
    expect(reuse.status).toBe(400);
    expect(reuse.body).toMatchObject({ error: 'invalid_grant' });
    // The token it was rotated to is dead at both instances: the grant is gone.
    expect((await refresh(viewA, web, tokenB)).body).toMatchObject({ error: 'invalid_grant' });
    expect(await db.prisma.refreshToken.count({ where: { id: { in: [tokenA, tokenB] } } })).toBe(0);
  });

  test('the per-client token limit is one budget: half spent at A, half at B, then 429 at both', async () => {
    const client = await serviceClient('limited');
    const remaining: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await clientCredentials(i % 2 === 0 ? a : b, client);
      expect(res.status).toBe(200);
      remaining.push(res.headers.get('ratelimit-remaining') ?? '?');
    }
    // One count: each answer, whichever instance gave it, saw the other's spending.
    expect(remaining).toEqual(['5', '4', '3', '2', '1', '0']);
    for (const p of [a, b]) {
      const refused = await clientCredentials(p, client);
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ error: 'temporarily_unavailable' });
      expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(refused.headers.get('ratelimit-limit')).toBe('6');
      expect(refused.headers.get('ratelimit-remaining')).toBe('0');
      expect(refused.headers.get('ratelimit-reset')).toMatch(/^\d+$/);
    }
  });

  test('a key rotated with the CLI is published, then signs, at both instances without a restart', async () => {
    // TOKEN_CLIENT_LIMIT is 6 here: the polling spreads its requests over clients of its own.
    const clients = await Promise.all(Array.from({ length: 16 }, (_, i) => serviceClient(`rotation-${i}`)));
    let issued = 0;
    const client = () => clients[Math.floor(issued++ / 5) % clients.length]!;
    const [before] = (await jwksOf(a)).keys;
    const cli = cliFor(database);
    const activationDelay = 3;
    const rotated = await cli.json<{ kid: string }>(['keys', 'rotate', '--activation-delay', `${activationDelay}s`]);
    const rotatedAt = Date.now();
    // The CLI computed the activation time when it ran (process start-up before that is not ours to count).
    const activatesAt = (await db.prisma.signingKey.findUniqueOrThrow({ where: { kid: rotated.kid } })).activatesAt.getTime();
    const refreshInterval = 1;
    // The stated bound: published within one refresh interval, signing within the activation
    // delay plus one refresh interval (README, Signing-key rotation); 2 s slack for the poll itself.
    const deadline = activatesAt + (refreshInterval + 2) * 1000;

    const published: Record<string, number> = {};
    const signing: Record<string, number> = {};
    while (Date.now() < deadline && Object.keys(signing).length < 2) {
      for (const [name, p] of [['A', a], ['B', b]] as const) {
        if (!published[name] && (await jwksOf(p)).keys.some((k) => k.kid === rotated.kid)) published[name] = Date.now() - rotatedAt;
        if (!signing[name]) {
          const res = await clientCredentials(p, client());
          expect(res.status).toBe(200);
          const kid = decodeProtectedHeader(res.body.access_token as string).kid;
          if (kid === rotated.kid) signing[name] = Date.now() - activatesAt;
          else expect(kid).toBe(before!.kid);
        }
      }
      await sleep(200);
    }
    // published_ms: after the CLI returned; signing_ms: after the key's activation time.
    report('multi-instance-key-rotation', { activation_delay_s: activationDelay, refresh_interval_s: refreshInterval, published_ms: published, signing_after_activation_ms: signing });
    expect(Object.keys(published).sort()).toEqual(['A', 'B']);
    expect(Object.keys(signing).sort()).toEqual(['A', 'B']);
    for (const ms of Object.values(published)) expect(ms).toBeLessThanOrEqual((refreshInterval + 2) * 1000);
    // A key never signs before its activation time, and signs within one refresh interval of it.
    for (const ms of Object.values(signing)) {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual((refreshInterval + 2) * 1000);
    }
    // The old key stays published for tokens it signed.
    expect((await jwksOf(b)).keys.map((k) => k.kid)).toContain(before!.kid);
  });
});
