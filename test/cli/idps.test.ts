// `gatehouse idp ...`, `user show` identities, `user unlink` and upstreams in the seed, as a
// subprocess: the client secret from stdin, stored encrypted (never printed, never audited),
// validation errors with exit 2, unknown ids with exit 1.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { createPasswordlessUser } from '../../src/accounts/users.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { deriveKeyEncryptionKey } from '../../src/keys/encryption.js';
import { linkIdentity } from '../../src/upstream/identities.js';
import { loadEnabledUpstream } from '../../src/upstream/registry.js';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { TEST_KEY_ENCRYPTION_SECRET } from '../support/gatehouse.js';

jest.setTimeout(300_000);

const SECRET = 'upstream-client-secret-0123456789abcdef';
const KEK = deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET);

type IdpJson = { id: string; display_name: string; kind: string; issuer: string; has_client_secret: boolean; create_users: boolean; trust_email: boolean; disabled: boolean; scopes: string[]; claims: Record<string, string | null> };

describe.each(PROVIDERS)('admin CLI: upstream identity providers (%s)', (provider) => {
  let database: TestDatabase;
  let db: Database;
  let cli: Cli;
  beforeAll(async () => {
    database = await freshDatabase(provider);
    db = await openDatabase(database.url);
    cli = cliFor(database);
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  test('create with the secret from stdin: stored encrypted, never printed or audited; list, show, update, disable, enable, delete', async () => {
    const created = await cli.json<IdpJson>(['idp', 'create', 'corp', '--name', 'Corp SSO', '--issuer', 'https://login.corp.example', '--client-id', 'gatehouse', '--client-secret-stdin', '--create-users'], { input: `${SECRET}\n` });
    expect(created).toMatchObject({ id: 'corp', kind: 'oidc', display_name: 'Corp SSO', issuer: 'https://login.corp.example', has_client_secret: true, create_users: true, trust_email: false, scopes: ['openid', 'email', 'profile'] });
    const row = await db.prisma.upstreamProvider.findUniqueOrThrow({ where: { id: 'corp' } });
    expect(row.clientSecretEnc).toMatch(/^v1\./);
    expect(row.clientSecretEnc).not.toContain(SECRET);
    expect((await loadEnabledUpstream(db.prisma, KEK, 'corp'))?.clientSecret).toBe(SECRET);

    const list = await cli(['idp', 'list']);
    expect(list.stdout).toMatch(/^ID\s+NAME\s+KIND\s+ISSUER\s+STATUS$/m);
    expect(list.stdout).toMatch(/corp\s+Corp SSO\s+oidc\s+https:\/\/login\.corp\.example\s+enabled/);
    const show = await cli(['idp', 'show', 'corp']);
    expect(show.stdout).toContain('(stored, encrypted)');
    for (const output of [list.stdout, show.stdout, JSON.stringify(created)]) expect(output).not.toContain(SECRET);

    const rotated = 'a-rotated-secret-value-9876543210';
    const updated = await cli.json<IdpJson>(['idp', 'update', 'corp', '--name', 'Corp', '--no-create-users', '--trust-email', '--email-claim', 'mail', '--client-secret-stdin'], { input: rotated });
    expect(updated).toMatchObject({ display_name: 'Corp', create_users: false, trust_email: true, claims: expect.objectContaining({ email: 'mail', subject: 'sub' }) });
    expect((await loadEnabledUpstream(db.prisma, KEK, 'corp'))?.clientSecret).toBe(rotated);

    expect((await cli.json<IdpJson>(['idp', 'disable', 'corp'])).disabled).toBe(true);
    expect(await loadEnabledUpstream(db.prisma, KEK, 'corp')).toBeNull();
    expect((await cli.json<IdpJson>(['idp', 'enable', 'corp'])).disabled).toBe(false);

    const audit = await db.prisma.auditEvent.findMany({ where: { type: { startsWith: 'upstream.' } } });
    expect(audit.map((a) => a.type)).toEqual(expect.arrayContaining(['upstream.created', 'upstream.updated']));
    expect(JSON.stringify(audit)).not.toContain(SECRET);
    expect(JSON.stringify(audit)).not.toContain(rotated);

    expect(await cli.json(['idp', 'delete', 'corp'])).toMatchObject({ id: 'corp', deleted: true, identities_removed: 0 });
    expect((await cli(['idp', 'show', 'corp'])).code).toBe(1);
  });

  test('bad input: exit 2 with the field named; conflicts and unknown ids exit 1', async () => {
    const noEndpoints = await cli(['idp', 'create', 'hub', '--kind', 'oauth2', '--name', 'Hub', '--client-id', 'x']);
    expect(noEndpoints.code).toBe(2);
    expect(noEndpoints.stderr).toMatch(/authorization_endpoint/);
    const plainHttp = await cli(['idp', 'create', 'plain', '--name', 'Plain', '--issuer', 'http://idp.example', '--client-id', 'x']);
    expect(plainHttp.code).toBe(2);
    expect(plainHttp.stderr).toMatch(/issuer: must use https/);
    const badId = await cli(['idp', 'create', 'Bad Id', '--name', 'X', '--issuer', 'https://idp.example', '--client-id', 'x']);
    expect(badId.code).toBe(2);
    const noOpenid = await cli(['idp', 'create', 'noscope', '--name', 'X', '--issuer', 'https://idp.example', '--client-id', 'x', '--scope', 'email']);
    expect(noOpenid.code).toBe(2);
    expect(noOpenid.stderr).toMatch(/openid/);
    const emptySecret = await cli(['idp', 'create', 'empty', '--name', 'X', '--issuer', 'https://idp.example', '--client-id', 'x', '--client-secret-stdin'], { input: '' });
    expect(emptySecret.code).toBe(2);
    const keyAndSecret = await cli(['idp', 'create', 'keyed', '--name', 'X', '--issuer', 'https://idp.example', '--client-id', 'x', '--client-auth-method', 'private_key_jwt', '--client-secret-stdin'], { input: SECRET });
    expect(keyAndSecret.code).toBe(2);
    expect(keyAndSecret.stderr).toMatch(/client_secret: must not be given with private_key_jwt/);
    const control = await cli(['idp', 'create', 'ctl', '--name', 'X\u0007Y', '--issuer', 'https://idp.example', '--client-id', 'x']);
    expect(control.code).toBe(2);

    const hub = await cli.json<IdpJson>([
      'idp', 'create', 'hub', '--kind', 'oauth2', '--name', 'Hub', '--client-id', 'x', '--authorization-endpoint', 'https://hub.example/login/oauth/authorize',
      '--token-endpoint', 'https://hub.example/login/oauth/access_token', '--userinfo-endpoint', 'https://api.hub.example/user', '--subject-claim', 'id', '--email-verified-claim', '-',
    ]);
    expect(hub).toMatchObject({ kind: 'oauth2', issuer: 'https://hub.example', scopes: [], claims: { subject: 'id', email: 'email', email_verified: null, name: 'name' } });
    expect((await cli(['idp', 'create', 'hub', '--kind', 'oauth2', '--name', 'Hub', '--client-id', 'x', '--authorization-endpoint', 'https://a.example/a', '--token-endpoint', 'https://a.example/t', '--userinfo-endpoint', 'https://a.example/u'])).code).toBe(1);
    expect((await cli(['idp', 'update', 'nobody', '--name', 'X'])).code).toBe(1);
    expect((await cli(['idp', 'delete', 'nobody'])).code).toBe(1);
  });

  test('user show lists linked identities; user unlink removes one; deleting an upstream removes its identities', async () => {
    await cli.json(['idp', 'create', 'links', '--name', 'Links', '--issuer', 'https://links.example', '--client-id', 'x']);
    const user = await createPasswordlessUser(db.prisma, { email: 'linked@example.com', name: 'Linked Person' });
    await linkIdentity(db.prisma, user.id, 'links', 'subject-123', 'linked@example.com');
    const shown = await cli.json<{ has_password: boolean; identities: { upstream_id: string; subject: string }[] }>(['user', 'show', 'linked@example.com']);
    expect(shown.has_password).toBe(false);
    expect(shown.identities).toEqual([expect.objectContaining({ upstream_id: 'links', subject: 'subject-123' })]);
    expect((await cli(['user', 'show', 'linked@example.com'])).stdout).toContain('links:subject-123');

    const unlinked = await cli(['user', 'unlink', 'linked@example.com', 'links', '--json']);
    expect(unlinked.code).toBe(0);
    expect(JSON.parse(unlinked.stdout)).toMatchObject({ upstream_id: 'links', unlinked: [expect.objectContaining({ subject: 'subject-123' })] });
    expect(unlinked.stderr).toMatch(/no password and no linked identity left/);
    expect(await db.prisma.linkedIdentity.count({ where: { userId: user.id } })).toBe(0);
    expect((await cli(['user', 'unlink', 'linked@example.com', 'links'])).code).toBe(1);
    expect(await db.prisma.auditEvent.count({ where: { type: 'identity.unlinked', subject: user.id } })).toBe(1);

    await linkIdentity(db.prisma, user.id, 'links', 'subject-123', null);
    expect(await cli.json(['idp', 'delete', 'links'])).toMatchObject({ identities_removed: 1 });
    expect(await db.prisma.user.count({ where: { id: user.id } })).toBe(1);
  });

  test('seed: upstreams are created, left alone when they match, updated when they differ; a secret is set only on creation', async () => {
    const file = path.join(cli.cwd, 'seed.json');
    const entry = { id: 'seeded', kind: 'oidc', display_name: 'Seeded SSO', issuer: 'https://seeded.example', client_id: 'gh', client_secret: SECRET, create_users: true };
    writeFileSync(file, JSON.stringify({ upstreams: [entry] }));
    expect(await cli.json(['seed', file])).toMatchObject({ changes: [{ kind: 'upstream', id: 'seeded', action: 'created' }] });
    expect(await cli.json(['seed', file])).toMatchObject({ changed: 0 });
    writeFileSync(file, JSON.stringify({ upstreams: [{ ...entry, display_name: 'Seeded', client_secret: 'another-secret-entirely' }] }));
    expect(await cli.json(['seed', file])).toMatchObject({ changes: [{ kind: 'upstream', id: 'seeded', action: 'updated', fields: ['display_name'] }] });
    expect((await loadEnabledUpstream(db.prisma, KEK, 'seeded'))?.clientSecret).toBe(SECRET);

    writeFileSync(file, JSON.stringify({ upstreams: [{ id: 'seeded', kind: 'oauth2', display_name: 'X', client_id: 'x', authorization_endpoint: 'https://a.example/a', token_endpoint: 'https://a.example/t', userinfo_endpoint: 'https://a.example/u' }] }));
    const kindChange = await cli(['seed', file]);
    expect(kindChange.code).toBe(2);
    expect(kindChange.stderr).toMatch(/upstreams\[0\]\.kind/);
  });
});
