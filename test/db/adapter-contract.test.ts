// oidc-provider's storage contract, run against both databases through the real adapter.
import { randomUUID } from 'node:crypto';
import { errors } from 'oidc-provider';
import { openDatabase, type Database } from '../../src/db/client.js';
import { createOidcAdapter } from '../../src/db/oidc-adapter.js';
import { sweepExpiredArtifacts } from '../../src/db/sweeper.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { replayRefusal } from '../../src/oidc/replay-refusal.js';

describe.each(PROVIDERS)('oidc adapter contract on %s', (provider) => {
  let testDb: TestDatabase;
  let db: Database;
  let Adapter: ReturnType<typeof createOidcAdapter>;

  beforeAll(async () => {
    testDb = await freshDatabase(provider);
    db = await openDatabase(testDb.url);
    Adapter = createOidcAdapter(db, async (id) => (id === 'known-client' ? { client_id: id } : undefined), replayRefusal);
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  test('upsert then find returns the payload; upsert again replaces it', async () => {
    const tokens = new Adapter('AccessToken');
    const id = randomUUID();
    await tokens.upsert(id, { accountId: 'u1', clientId: 'c1', grantId: 'g1', scope: 'openid' }, 60);
    expect(await tokens.find(id)).toEqual({ accountId: 'u1', clientId: 'c1', grantId: 'g1', scope: 'openid' });
    await tokens.upsert(id, { accountId: 'u1', clientId: 'c1', grantId: 'g1', scope: 'openid email' }, 60);
    expect(await tokens.find(id)).toMatchObject({ scope: 'openid email' });
    expect(await tokens.find(randomUUID())).toBeUndefined();
  });

  test('finds of one value in the three token tables at once each get their own table\'s answer (one gathered statement)', async () => {
    const [access, credentials, refresh] = ['AccessToken', 'ClientCredentials', 'RefreshToken'].map((name) => new Adapter(name));
    const id = randomUUID();
    const other = randomUUID();
    const expired = randomUUID();
    await refresh!.upsert(id, { accountId: 'u1', clientId: 'c1', grantId: 'g1', kind: 'RefreshToken' }, 60);
    await access!.upsert(other, { clientId: 'c2', kind: 'AccessToken' }, 60);
    await credentials!.upsert(expired, { clientId: 'c3', kind: 'ClientCredentials' }, 60);
    await refresh!.consume(id);
    await db.prisma.clientCredentials.update({ where: { id: expired }, data: { expiresAt: new Date(Date.now() - 1000) } });
    // As lib/helpers/token_find.js asks without a token_type_hint: all three in one step, and
    // other values in the same step.
    const found = await Promise.all([access!.find(id), credentials!.find(id), refresh!.find(id), access!.find(other), refresh!.find(other), credentials!.find(expired)]);
    expect(found.slice(0, 3)).toEqual([undefined, undefined, { accountId: 'u1', clientId: 'c1', grantId: 'g1', kind: 'RefreshToken', consumed: expect.any(Number) }]);
    expect(found.slice(3)).toEqual([{ clientId: 'c2', kind: 'AccessToken' }, undefined, undefined]);
    // A find alone, and the same table twice in one step.
    expect(await refresh!.find(id)).toMatchObject({ grantId: 'g1' });
    expect(await Promise.all([access!.find(other), access!.find(other)])).toEqual([{ clientId: 'c2', kind: 'AccessToken' }, { clientId: 'c2', kind: 'AccessToken' }]);
  });

  test('expired entries are never returned, and the sweeper removes them', async () => {
    const sessions = new Adapter('Session');
    const id = randomUUID();
    const uid = randomUUID();
    await sessions.upsert(id, { uid, accountId: 'u1' }, 1);
    expect(await sessions.findByUid(uid)).toMatchObject({ accountId: 'u1' });
    // Move the expiry into the past instead of sleeping.
    await db.prisma.session.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await sessions.find(id)).toBeUndefined();
    expect(await sessions.findByUid(uid)).toBeUndefined();
    const removed = await sweepExpiredArtifacts(db.prisma);
    expect(removed.Session).toBeGreaterThanOrEqual(1);
    expect(await db.prisma.session.count({ where: { id } })).toBe(0);
  });

  test('finding 15.3: a replay key is stored once; a live key is refused, an expired leftover is taken over', async () => {
    const replays = new Adapter('ReplayDetection');
    const id = randomUUID();
    await replays.upsert(id, { jti: id, iss: 'c1' }, 60);
    // Outside a request there is no assertion or DPoP proof to name: a plain invalid_request.
    await expect(replays.upsert(id, { jti: id, iss: 'c1' }, 60)).rejects.toMatchObject({ error: 'invalid_request' });
    expect(await db.prisma.replayDetection.count({ where: { id } })).toBe(1);
    // Past its expiry but not yet swept: the key may be stored again.
    await db.prisma.replayDetection.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await replays.upsert(id, { jti: id, iss: 'c1' }, 60);
    const row = await db.prisma.replayDetection.findUniqueOrThrow({ where: { id } });
    expect(row.expiresAt!.getTime()).toBeGreaterThan(Date.now());
    expect(row.payload).toEqual({ jti: id, iss: 'c1' });
  });

  // upsert() and consume() write raw SQL (src/db/oidc-adapter.ts): what they store must read back
  // through Prisma's model API exactly as Prisma's own writes do, and compare correctly in time.
  test('rows written by upsert and consume read back through the model API as Prisma writes them', async () => {
    const refresh = new Adapter('RefreshToken');
    const id = randomUUID();
    const before = Date.now();
    await refresh.upsert(id, { grantId: 'g-raw', accountId: 'u-raw', clientId: 'c-raw', uid: 'uid-raw', nested: { a: [1, 'two'] } }, 60);
    const row = await db.prisma.refreshToken.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ grantId: 'g-raw', accountId: 'u-raw', clientId: 'c-raw', uid: 'uid-raw', userCode: null, consumedAt: null });
    expect(row.payload).toEqual({ grantId: 'g-raw', accountId: 'u-raw', clientId: 'c-raw', uid: 'uid-raw', nested: { a: [1, 'two'] } });
    expect(row.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(row.createdAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    expect(row.expiresAt!.getTime() - row.createdAt.getTime()).toBeGreaterThanOrEqual(59_000);
    expect(row.expiresAt!.getTime() - row.createdAt.getTime()).toBeLessThanOrEqual(61_000);
    // Model-API queries compare the raw-written timestamps correctly.
    expect(await db.prisma.refreshToken.count({ where: { id, expiresAt: { gt: new Date() }, createdAt: { lte: new Date() } } })).toBe(1);
    // An update keeps createdAt and consumedAt, as Prisma's upsert did.
    await refresh.consume(id);
    const consumed = await db.prisma.refreshToken.findUniqueOrThrow({ where: { id } });
    expect(consumed.consumedAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    await refresh.upsert(id, { grantId: 'g-raw', scope: 'changed' }, 120);
    const updated = await db.prisma.refreshToken.findUniqueOrThrow({ where: { id } });
    expect(updated.createdAt).toEqual(row.createdAt);
    expect(updated.consumedAt).toEqual(consumed.consumedAt);
    expect(updated).toMatchObject({ accountId: null, clientId: null, uid: null, payload: { grantId: 'g-raw', scope: 'changed' } });
    // A row Prisma marks expired cannot be consumed.
    const other = randomUUID();
    await refresh.upsert(other, { grantId: 'g-raw' }, 60);
    await db.prisma.refreshToken.update({ where: { id: other }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await expect(refresh.consume(other)).rejects.toBeInstanceOf(errors.InvalidGrant);
  });

  test('entries without expiry stay', async () => {
    const grants = new Adapter('Grant');
    const id = randomUUID();
    await grants.upsert(id, { accountId: 'u1', clientId: 'c1' }, 0);
    expect(await grants.find(id)).toMatchObject({ accountId: 'u1' });
  });

  test('findByUserCode finds a device code by its user code', async () => {
    const deviceCodes = new Adapter('DeviceCode');
    const id = randomUUID();
    const userCode = `UC${randomUUID().slice(0, 8)}`;
    await deviceCodes.upsert(id, { userCode, clientId: 'c1', grantId: 'g-dev' }, 600);
    expect(await deviceCodes.findByUserCode(userCode)).toMatchObject({ userCode, clientId: 'c1' });
    expect(await deviceCodes.findByUserCode('NOPE')).toBeUndefined();
  });

  test('consume marks the entry consumed once; a second consume is detectable', async () => {
    const codes = new Adapter('AuthorizationCode');
    const id = randomUUID();
    await codes.upsert(id, { grantId: 'g2', clientId: 'c1' }, 60);
    await codes.consume(id);
    const found = await codes.find(id);
    expect(typeof found?.consumed).toBe('number');
    await expect(codes.consume(id)).rejects.toBeInstanceOf(errors.InvalidGrant);
  });

  test('concurrent consumes of one entry: exactly one wins', async () => {
    const refresh = new Adapter('RefreshToken');
    const id = randomUUID();
    await refresh.upsert(id, { grantId: 'g3', clientId: 'c1' }, 60);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => refresh.consume(id)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r) => r.status === 'rejected')) {
      expect((r).reason).toBeInstanceOf(errors.InvalidGrant);
    }
  });

  test('destroy removes the entry', async () => {
    const interactions = new Adapter('Interaction');
    const id = randomUUID();
    await interactions.upsert(id, { uid: id }, 60);
    await interactions.destroy(id);
    expect(await interactions.find(id)).toBeUndefined();
    await expect(interactions.destroy(id)).resolves.toBeUndefined();
  });

  test('revokeByGrantId removes every entry of that grant and nothing else', async () => {
    const refresh = new Adapter('RefreshToken');
    const grantId = randomUUID();
    const [a, b, other] = [randomUUID(), randomUUID(), randomUUID()];
    await refresh.upsert(a, { grantId }, 60);
    await refresh.upsert(b, { grantId }, 60);
    await refresh.upsert(other, { grantId: randomUUID() }, 60);
    await refresh.revokeByGrantId(grantId);
    expect(await refresh.find(a)).toBeUndefined();
    expect(await refresh.find(b)).toBeUndefined();
    expect(await refresh.find(other)).toBeDefined();
  });

  test('clients come from the registry lookup, never from artifact tables', async () => {
    const clients = new Adapter('Client');
    expect(await clients.find('known-client')).toEqual({ client_id: 'known-client' });
    expect(await clients.find('unknown')).toBeUndefined();
    await expect(clients.upsert('x', { client_id: 'x' }, 0)).rejects.toThrow(/registry/);
  });

  test('an unknown model name is refused at construction', () => {
    expect(() => new Adapter('Nonsense')).toThrow(/unknown model/);
  });
});
