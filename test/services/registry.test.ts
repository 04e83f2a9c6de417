// The client and API registry against a real database: validation of what is written, secrets
// that exist only as hashes, rotation, and deletion of everything a client left behind.
import { createHash, randomUUID } from 'node:crypto';
import { createApi, deleteApi, getApi, listApis, updateApi } from '../../src/clients/apis.js';
import {
  RegistryError,
  createClient,
  deleteClient,
  newClientId,
  getClient,
  listClients,
  rotateClientSecret,
  setClientDisabled,
  updateClient,
  type ClientView,
} from '../../src/clients/registry.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { assertionKey } from '../support/client-assertion.js';

async function registryError(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RegistryError) return error;
    throw error;
  }
  throw new Error('expected a RegistryError');
}

const ORDERS = 'https://api.example.com/orders';
const BILLING = 'urn:example:billing';

test('generated client_ids never start with "-", which the CLI would read as an option', () => {
  // Seen as a CLI test failure: `client update -07Yu…` exited 2 with "unknown option".
  const ids = Array.from({ length: 5000 }, () => newClientId());
  expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
  expect(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id))).toBe(true);
});

describe.each(PROVIDERS)('registry on %s', (provider) => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await freshDatabase(provider);
    db = await openDatabase(testDb.url);
    await createApi(db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read', 'orders:write'], access_token_ttl: 600 });
    await createApi(db.prisma, { identifier: BILLING, name: 'Billing', scopes: ['billing:read'] });
  });
  afterAll(async () => {
    await db.close();
    await testDb.drop();
  });

  describe('APIs', () => {
    test('are created with a default lifetime and read back', async () => {
      expect(await getApi(db.prisma, BILLING)).toMatchObject({ identifier: BILLING, name: 'Billing', scopes: ['billing:read'], access_token_ttl: 900 });
      expect((await listApis(db.prisma)).map((a) => a.identifier)).toEqual(expect.arrayContaining([ORDERS, BILLING]));
      expect(await getApi(db.prisma, 'https://nope.example.com')).toBeNull();
    });

    test('identifiers are absolute https URIs or URNs without fragment or query (RFC 8707 §2)', async () => {
      for (const [identifier, message] of [
        ['api.example.com', /identifier: must be an absolute URI/],
        ['https://api.example.com/#x', /identifier: must not contain a fragment/],
        ['https://api.example.com/?v=1', /identifier: must not contain a query/],
        ['http://api.example.com', /identifier: must use https/],
        ['urn:bad', /identifier: must be a URN/],
      ] as const) {
        const error = await registryError(createApi(db.prisma, { identifier, name: 'x', scopes: [] }));
        expect(error.code).toBe('invalid');
        expect(error.problems).toEqual([expect.stringMatching(message)]);
      }
    });

    test('scopes are scope tokens, unique, and never OpenID Connect scope names', async () => {
      const error = await registryError(createApi(db.prisma, { identifier: 'https://x.example.com', name: 'x', scopes: ['a', 'openid', 'a', 'b c'] }));
      expect(error.problems).toEqual([
        expect.stringMatching(/^scopes\[3\]: must be a scope token/),
        'scopes[1]: "openid" is an OpenID Connect scope and cannot be an API scope',
        'scopes[2]: is listed twice',
      ]);
    });

    test('a duplicate identifier is a conflict; unknown fields are refused', async () => {
      expect((await registryError(createApi(db.prisma, { identifier: ORDERS, name: 'again', scopes: [] }))).code).toBe('conflict');
      const error = await registryError(createApi(db.prisma, { identifier: 'https://y.example.com', name: 'y', scopes: [], owner: 'me' } as never));
      expect(error.problems).toEqual(['owner: is not a recognised field']);
    });

    test('lifetime is bounded', async () => {
      const error = await registryError(createApi(db.prisma, { identifier: 'https://z.example.com', name: 'z', scopes: [], access_token_ttl: 10 }));
      expect(error.problems).toEqual(['access_token_ttl: must be at least 60 seconds']);
    });

    test('removing a scope from an API removes it from clients; deleting an API removes the permission and the default', async () => {
      const identifier = `https://shrink-${randomUUID()}.example.com`;
      await createApi(db.prisma, { identifier, name: 'Shrinking', scopes: ['a', 'b'] });
      const { client } = await createClient(db.prisma, { name: 's', profile: 'service', apis: [{ identifier, scopes: ['a', 'b'] }], default_api: identifier });
      expect(await updateApi(db.prisma, identifier, { scopes: ['b', 'c'] })).toMatchObject({ scopes: ['b', 'c'] });
      expect((await getClient(db.prisma, client.client_id))!.apis).toEqual([{ identifier, scopes: ['b'] }]);
      await deleteApi(db.prisma, identifier);
      expect(await getClient(db.prisma, client.client_id)).toMatchObject({ apis: [], default_api: null });
      expect((await registryError(deleteApi(db.prisma, identifier))).code).toBe('not_found');
      expect((await registryError(updateApi(db.prisma, identifier, { name: 'x' }))).code).toBe('not_found');
    });
  });

  describe('clients', () => {
    test('a service client gets a generated secret, shown once and never read back', async () => {
      const created = await createClient(db.prisma, {
        name: 'Reporting job',
        profile: 'service',
        apis: [{ identifier: ORDERS, scopes: ['orders:read'] }],
        default_api: ORDERS,
      });
      const secret = created.clientSecret!;
      // ghs_ + 43 base64url characters = 32 random bytes = 256 bits.
      expect(secret).toMatch(/^ghs_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(secret.slice(4), 'base64url')).toHaveLength(32);
      expect(created.client).toMatchObject<Partial<ClientView>>({
        client_name: 'Reporting job',
        profile: 'service',
        type: 'confidential',
        grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'client_secret_basic',
        apis: [{ identifier: ORDERS, scopes: ['orders:read'] }],
        default_api: ORDERS,
        disabled: false,
        first_party: false,
      });
      expect(created.client.client_id).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(created.client.client_secrets).toEqual([{ created_at: expect.any(String), expires_at: null }]);

      const read = await getClient(db.prisma, created.client.client_id);
      const everyRead = JSON.stringify([read, await listClients(db.prisma)]);
      expect(everyRead).not.toContain(secret);
      expect(everyRead).not.toContain('sha256$');
    });

    test('secrets are stored only as SHA-256 hashes: the plaintext is nowhere in the database', async () => {
      const { client, clientSecret } = await createClient(db.prisma, { name: 'Hashed', profile: 'service' });
      const rows = await db.prisma.clientSecret.findMany({ where: { clientId: client.client_id } });
      expect(rows).toHaveLength(1);
      const expected = `sha256$${createHash('sha256').update(clientSecret!).digest('base64url')}`;
      expect(rows[0]!.hash).toBe(expected);
      expect(rows[0]!.hash).not.toMatch(/^\$argon2/);
      // Every registry table, every column: the secret string appears nowhere.
      const everything = JSON.stringify([
        await db.prisma.clientSecret.findMany(),
        await db.prisma.client.findMany(),
        await db.prisma.clientApi.findMany(),
        await db.prisma.auditEvent.findMany(),
      ]);
      expect(everything).not.toContain(clientSecret!);
      expect(everything).not.toContain(clientSecret!.slice(4));
    });

    test('a chosen client_id registered by several writers at once is created once; the others get a conflict', async () => {
      // Check-then-insert let every concurrent writer pass the check; the loser then hit the
      // unique constraint and surfaced as an unexpected error (the seed and the CLI exit 1).
      const clientId = `concurrent-${randomUUID()}`;
      const input = { name: 'Concurrent', profile: 'service' as const, apis: [{ identifier: ORDERS, scopes: ['orders:read'] }] };
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => createClient(db.prisma, input, { clientId })));
      const created = results.filter((r) => r.status === 'fulfilled');
      const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(created).toHaveLength(1);
      expect(refused.map((e) => (e instanceof RegistryError ? e.code : String(e)))).toEqual(Array(7).fill('conflict'));
      expect(await db.prisma.client.count({ where: { id: clientId } })).toBe(1);
    });

    test('public clients get no secret', async () => {
      const created = await createClient(db.prisma, { name: 'SPA', profile: 'spa', redirect_uris: ['https://spa.example.com/cb'] });
      expect(created.clientSecret).toBeUndefined();
      expect(created.client).toMatchObject({ type: 'public', token_endpoint_auth_method: 'none', client_secrets: [] });
      expect(await db.prisma.clientSecret.count({ where: { clientId: created.client.client_id } })).toBe(0);
    });

    test('invalid metadata is refused with every problem named, and nothing is written', async () => {
      const before = await db.prisma.client.count();
      const error = await registryError(
        createClient(db.prisma, { name: 'Bad', profile: 'spa', redirect_uris: ['http://evil.example/cb'], token_endpoint_auth_method: 'client_secret_post' }),
      );
      expect(error.code).toBe('invalid');
      expect(error.problems).toEqual([
        expect.stringMatching(/^token_endpoint_auth_method: must be none for spa clients/),
        expect.stringMatching(/^redirect_uris\[0\]: must use https/),
      ]);
      expect(await db.prisma.client.count()).toBe(before);
    });

    test('APIs and scopes a client names must exist', async () => {
      const error = await registryError(
        createClient(db.prisma, {
          name: 'Bad',
          profile: 'service',
          apis: [
            { identifier: 'https://unknown.example.com', scopes: [] },
            { identifier: ORDERS, scopes: ['orders:read', 'orders:delete'] },
          ],
        }),
      );
      expect(error.problems).toEqual([
        'apis[0].identifier: no API is registered with identifier "https://unknown.example.com"',
        `apis[1].scopes[1]: "orders:delete" is not a scope of API ${ORDERS}`,
      ]);
    });

    test('private_key_jwt clients store public keys and no secret', async () => {
      const key = await assertionKey();
      const created = await createClient(db.prisma, { name: 'JWT', profile: 'service', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } });
      expect(created.clientSecret).toBeUndefined();
      expect(created.client.jwks).toEqual({ keys: [key.publicJwk] });
      expect(await db.prisma.clientSecret.count({ where: { clientId: created.client.client_id } })).toBe(0);
    });

    test('updates are validated as a whole and name the field', async () => {
      const { client } = await createClient(db.prisma, { name: 'Web', profile: 'web', redirect_uris: ['https://web.example.com/cb'] });
      const renamed = await updateClient(db.prisma, client.client_id, { name: 'Web app', first_party: true, cors_origins: ['https://web.example.com'] });
      expect(renamed.clientSecret).toBeUndefined();
      expect(renamed.client).toMatchObject({ client_name: 'Web app', first_party: true, cors_origins: ['https://web.example.com'], redirect_uris: ['https://web.example.com/cb'] });
      expect(Date.parse(renamed.client.updated_at)).toBeGreaterThanOrEqual(Date.parse(client.updated_at));

      expect((await registryError(updateClient(db.prisma, client.client_id, { redirect_uris: [] }))).problems).toEqual([
        'redirect_uris: must contain at least one URI for the authorization_code grant',
      ]);
      expect((await registryError(updateClient(db.prisma, client.client_id, { client_secret: 'x' } as never))).problems).toEqual([
        'client_secret: is not a recognised field',
      ]);
      expect((await registryError(updateClient(db.prisma, 'no-such-client', { name: 'x' }))).code).toBe('not_found');
    });

    test('changing the auth method adds or removes secrets; changing the profile re-derives its defaults', async () => {
      const key = await assertionKey();
      const { client, clientSecret } = await createClient(db.prisma, { name: 'Svc', profile: 'service' });
      expect(clientSecret).toBeDefined();

      const toJwt = await updateClient(db.prisma, client.client_id, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.publicJwk] } });
      expect(toJwt.clientSecret).toBeUndefined();
      expect(await db.prisma.clientSecret.count({ where: { clientId: client.client_id } })).toBe(0);

      const back = await updateClient(db.prisma, client.client_id, { token_endpoint_auth_method: 'client_secret_post', jwks: null });
      expect(back.clientSecret).toMatch(/^ghs_/);
      expect(back.client).toMatchObject({ token_endpoint_auth_method: 'client_secret_post', jwks: null });

      const web = await updateClient(db.prisma, client.client_id, { profile: 'web', redirect_uris: ['https://svc.example.com/cb'] });
      expect(web.client).toMatchObject({ profile: 'web', grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'client_secret_basic' });
      expect(web.clientSecret).toBeUndefined(); // the secret issued above still works

      const spa = await updateClient(db.prisma, client.client_id, { profile: 'spa' });
      expect(spa.client).toMatchObject({ type: 'public', token_endpoint_auth_method: 'none' });
      expect(await db.prisma.clientSecret.count({ where: { clientId: client.client_id } })).toBe(0);
    });

    test('disable and enable', async () => {
      const { client } = await createClient(db.prisma, { name: 'D', profile: 'service' });
      expect((await setClientDisabled(db.prisma, client.client_id, true)).disabled).toBe(true);
      expect((await getClient(db.prisma, client.client_id))!.disabled).toBe(true);
      expect((await setClientDisabled(db.prisma, client.client_id, false)).disabled).toBe(false);
      expect((await registryError(setClientDisabled(db.prisma, 'nope', true))).code).toBe('not_found');
    });
  });

  describe('secret rotation', () => {
    test('the previous secret stays valid until the stated expiry', async () => {
      const { client } = await createClient(db.prisma, { name: 'R', profile: 'service' });
      const before = Date.now();
      const rotated = await rotateClientSecret(db.prisma, client.client_id, { overlapSeconds: 3600 });
      expect(rotated.clientSecret).toMatch(/^ghs_/);
      expect(rotated.previousExpiresAt!.getTime()).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
      expect(rotated.previousExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);
      const view = (await getClient(db.prisma, client.client_id))!;
      expect(view.client_secrets.map((s) => s.expires_at)).toEqual([rotated.previousExpiresAt!.toISOString(), null]);

      // A second rotation never extends the first one's overlap.
      const again = await rotateClientSecret(db.prisma, client.client_id, { overlapSeconds: 7200 });
      expect(again.previousExpiresAt!.getTime()).toBeGreaterThan(rotated.previousExpiresAt!.getTime());
      const expiries = (await db.prisma.clientSecret.findMany({ where: { clientId: client.client_id }, orderBy: { createdAt: 'asc' } })).map((s) => s.expiresAt?.getTime() ?? null);
      expect(expiries[0]).toBe(rotated.previousExpiresAt!.getTime());
      expect(expiries).toHaveLength(3);
      expect(expiries[2]).toBeNull();
    });

    test('overlap is bounded; public and private_key_jwt clients have nothing to rotate', async () => {
      const { client } = await createClient(db.prisma, { name: 'R2', profile: 'service' });
      expect((await registryError(rotateClientSecret(db.prisma, client.client_id, { overlapSeconds: -1 }))).problems).toEqual(['overlapSeconds: must not be negative']);
      expect((await registryError(rotateClientSecret(db.prisma, client.client_id, { overlapSeconds: 40 * 86_400 }))).problems).toEqual([
        'overlapSeconds: must be at most 2592000 seconds (30 days)',
      ]);
      const spa = await createClient(db.prisma, { name: 'S', profile: 'spa', redirect_uris: ['https://s.example.com/cb'] });
      expect((await registryError(rotateClientSecret(db.prisma, spa.client.client_id, { overlapSeconds: 0 }))).code).toBe('invalid');
      expect((await registryError(rotateClientSecret(db.prisma, 'nope', { overlapSeconds: 0 }))).code).toBe('not_found');
    });
  });

  test('deleting a client deletes its secrets, permissions and every grant artifact it left', async () => {
    const { client } = await createClient(db.prisma, { name: 'Gone', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }] });
    const { client: other } = await createClient(db.prisma, { name: 'Stays', profile: 'service' });
    const artifact = (clientId: string) => ({ id: randomUUID(), payload: { clientId }, clientId, grantId: 'g', expiresAt: new Date(Date.now() + 60_000) });
    for (const clientId of [client.client_id, other.client_id]) {
      await db.prisma.grant.create({ data: artifact(clientId) });
      await db.prisma.refreshToken.create({ data: artifact(clientId) });
      await db.prisma.accessToken.create({ data: artifact(clientId) });
      await db.prisma.authorizationCode.create({ data: artifact(clientId) });
      await db.prisma.deviceCode.create({ data: artifact(clientId) });
      await db.prisma.clientCredentials.create({ data: artifact(clientId) });
    }
    await deleteClient(db.prisma, client.client_id);

    expect(await getClient(db.prisma, client.client_id)).toBeNull();
    const of = (clientId: string) => ({ where: { clientId } });
    for (const clientId of [client.client_id]) {
      expect(await db.prisma.clientSecret.count(of(clientId))).toBe(0);
      expect(await db.prisma.clientApi.count(of(clientId))).toBe(0);
      expect(await db.prisma.grant.count(of(clientId))).toBe(0);
      expect(await db.prisma.refreshToken.count(of(clientId))).toBe(0);
      expect(await db.prisma.accessToken.count(of(clientId))).toBe(0);
      expect(await db.prisma.authorizationCode.count(of(clientId))).toBe(0);
      expect(await db.prisma.deviceCode.count(of(clientId))).toBe(0);
      expect(await db.prisma.clientCredentials.count(of(clientId))).toBe(0);
    }
    expect(await db.prisma.grant.count(of(other.client_id))).toBe(1);
    expect(await db.prisma.refreshToken.count(of(other.client_id))).toBe(1);
    expect(await db.prisma.clientSecret.count(of(other.client_id))).toBe(1);
    expect((await registryError(deleteClient(db.prisma, client.client_id))).code).toBe('not_found');
  });
});
