// `gatehouse keys ...` against a running server (rotation reaches it without a restart) and
// `gatehouse audit tail`.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { decodeProtectedHeader } from 'jose';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { eventually } from '../support/eventually.js';

// Each CLI command is a process start (about a second; more on a loaded machine).
jest.setTimeout(300_000);

type KeyJson = { kid: string; state: string; activates_at: string };


describe.each(PROVIDERS)('admin CLI: signing keys and audit (%s)', (provider) => {
  let database: TestDatabase;
  let cli: Cli;
  let gh: TestGatehouse;
  let service: { client_id: string; client_secret: string };

  const publishedKids = async () => {
    const res = await fetch(endpoints(gh).jwks);
    return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
  };
  const signingKid = async () => {
    const token = await postForm(endpoints(gh).token, { grant_type: 'client_credentials' }, { authorization: basicAuth(service.client_id, service.client_secret) });
    expect(token.status).toBe(200);
    return decodeProtectedHeader(String(token.body.access_token)).kid;
  };

  beforeAll(async () => {
    database = await freshDatabase(provider);
    cli = cliFor(database);
    gh = await startGatehouse(provider, { KEY_REFRESH_INTERVAL: '1s' }, database);
    await cli.json(['api', 'create', '--identifier', 'urn:keys:api', '--name', 'K', '--scope', 'k']);
    service = await cli.json(['client', 'create', '--name', 'svc', '--type', 'service', '--api', 'urn:keys:api']);
  });
  afterAll(async () => {
    await gh?.close();
    await database?.drop();
  });

  test('rotate publishes a new key at once, signs with it after the delay, and retire removes the old one', async () => {
    const [original] = await cli.json<KeyJson[]>(['keys', 'list']);
    expect(original).toMatchObject({ state: 'active' });
    expect(await signingKid()).toBe(original!.kid);

    const rotated = await cli.json<KeyJson>(['keys', 'rotate', '--activation-delay', '1h']);
    expect(rotated.state).toBe('pending');
    const list = await cli(['keys', 'list']);
    expect(list.stdout).toMatch(/^KID\s+STATE\s+CREATED\s+ACTIVATES\s+RETIRED$/m);
    expect(list.stdout).toMatch(new RegExp(`${rotated.kid}\\s+pending`));

    // Published by the running server within KEY_REFRESH_INTERVAL (1s here), before it signs.
    await eventually(5, async () => ((await publishedKids()).includes(rotated.kid) ? true : undefined));
    expect(await signingKid()).toBe(original!.kid);
    // An hour passes: the activation time is moved to now rather than waited for.
    await gh.db.prisma.signingKey.update({ where: { kid: rotated.kid }, data: { activatesAt: new Date() } });
    // Signs once active (activation time plus at most one refresh interval).
    await eventually(10, async () => ((await signingKid()) === rotated.kid ? true : undefined));
    expect(await publishedKids()).toEqual([original!.kid, rotated.kid].sort());

    // The old key still verifies tokens it signed recently: retiring it is refused without --force.
    const refused = await cli(['keys', 'retire', original!.kid]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/may be valid until .*--force/);
    const current = await cli(['keys', 'retire', rotated.kid, '--force']);
    expect(current.code).toBe(1);
    expect(current.stderr).toMatch(/is the key that signs now/);

    const retired = await cli.json<KeyJson>(['keys', 'retire', original!.kid, '--force']);
    expect(retired.state).toBe('retired');
    await eventually(5, async () => ((await publishedKids()).includes(original!.kid) ? undefined : true));
    expect(await publishedKids()).toEqual([rotated.kid]);
    expect((await cli(['keys', 'retire', original!.kid])).stderr).toMatch(/already retired/);
    expect((await cli(['keys', 'retire', 'no-such-kid'])).code).toBe(1);
    expect((await cli(['keys', 'rotate', '--activation-delay', 'tomorrow'])).code).toBe(2);
  });

  test('audit tail shows administrative actions with the operator, filtered by type and time', async () => {
    const events = await cli.json<{ type: string; client_id: string | null; details: { actor?: string } }[]>(['audit', 'tail', '--type', 'client.created', '--since', '1h']);
    expect(events.length).toBeGreaterThanOrEqual(1);
    expect(events.every((e) => e.type === 'client.created')).toBe(true);
    expect(events.map((e) => e.client_id)).toContain(service.client_id);
    expect(events[0]!.details.actor).toMatch(/^cli:/);

    const table = await cli(['audit', 'tail', '--limit', '3']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^AT\s+TYPE\s+OUTCOME\s+SUBJECT\s+CLIENT\s+IP\s+DETAILS$/m);
    expect(table.stdout.trim().split('\n')).toHaveLength(4);
    expect((await cli(['audit', 'tail', '--type', 'no.such.type'])).stdout).toBe('no audit events match\n');
    expect((await cli(['audit', 'tail', '--since', 'yesterday'])).code).toBe(2);
    expect((await cli(['audit', 'tail', '--limit', '0'])).code).toBe(2);
  });
});
