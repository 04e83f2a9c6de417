// `gatehouse seed FILE` as a subprocess: the example file, idempotence, updates, secrets once,
// errors that point into the file.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { PASSWORD } from '../support/signin.js';

// Each CLI command is a process start (about a second; more on a loaded machine).
jest.setTimeout(300_000);

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../prisma/seed.example.json');

type SeedJson = { dry_run: boolean; changed: number; changes: { kind: string; id: string; action: string; fields?: string[] }[]; client_secrets?: Record<string, string>; secrets_file?: string };

describe.each(PROVIDERS)('admin CLI: seed (%s)', (provider) => {
  let database: TestDatabase;
  let cli: Cli;
  const file = (name: string, content: unknown) => {
    const at = path.join(cli.cwd, name);
    writeFileSync(at, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    return at;
  };

  beforeAll(async () => {
    database = await freshDatabase(provider);
    cli = cliFor(database);
  });
  afterAll(async () => database?.drop());

  test('the example seed creates its APIs and clients, prints secrets once, and a second run changes nothing', async () => {
    const first = await cli(['seed', EXAMPLE]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^KIND\s+ID\s+RESULT$/m);
    expect(first.stdout).toMatch(/client\s+example-web\s+created/);
    expect(first.stdout).toMatch(/changed 5 of 5 entries/);
    const secrets = [...first.stdout.matchAll(/^\s+(example-[a-z]+): (ghs_\S+)$/gm)].map((m) => [m[1], m[2]]);
    // Confidential clients only: the web app and the service.
    expect(secrets.map(([id]) => id).sort()).toEqual(['example-service', 'example-web']);

    const again = await cli(['seed', EXAMPLE, '--json']);
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout) as SeedJson;
    expect(result.changed).toBe(0);
    expect(result.changes.every((c) => c.action === 'unchanged')).toBe(true);
    expect(result.client_secrets).toBeUndefined();
    expect(again.stdout).not.toMatch(/ghs_/);
    const text = await cli(['seed', EXAMPLE]);
    expect(text.stdout).toMatch(/nothing to change: the database already matches/);
    // And the secrets printed the first time are the ones that work: nothing was rotated.
    const shown = await cli(['client', 'show', 'example-web', '--json']);
    expect((JSON.parse(shown.stdout) as { client_secrets: unknown[] }).client_secrets).toHaveLength(1);
  });

  test('changed fields are updated and named, users are created once and their passwords never touched', async () => {
    const seed = {
      apis: [{ identifier: 'urn:acme:inventory', name: 'Inventory', scopes: ['stock:read'] }],
      clients: [{ client_id: 'acme-portal', name: 'Portal', profile: 'web', redirect_uris: ['https://portal.acme.test/cb'], apis: [{ identifier: 'urn:acme:inventory', scopes: ['stock:read'] }] }],
      users: [{ email: 'ops@acme.test', name: 'Ops', password: PASSWORD, email_verified: true }],
    };
    const created = JSON.parse((await cli(['seed', file('acme.json', seed), '--json'])).stdout) as SeedJson;
    expect(created.changes.map((c) => `${c.kind}:${c.action}`)).toEqual(['api:created', 'client:created', 'user:created']);
    expect(Object.keys(created.client_secrets ?? {})).toEqual(['acme-portal']);

    const changed = {
      ...seed,
      apis: [{ ...seed.apis[0], scopes: ['stock:read', 'stock:write'] }],
      clients: [{ ...seed.clients[0], redirect_uris: ['https://portal.acme.test/callback'], name: 'Acme portal' }],
      users: [{ email: 'ops@acme.test', name: 'Operations', password: 'a different password entirely', email_verified: true }],
    };
    const dry = JSON.parse((await cli(['seed', file('acme2.json', changed), '--dry-run', '--json'])).stdout) as SeedJson;
    expect(dry).toMatchObject({ dry_run: true, changed: 3 });
    const update = JSON.parse((await cli(['seed', file('acme2.json', changed), '--json'])).stdout) as SeedJson;
    expect(update.changes).toEqual([
      { kind: 'api', id: 'urn:acme:inventory', action: 'updated', fields: ['scopes'] },
      { kind: 'client', id: 'acme-portal', action: 'updated', fields: ['name', 'redirect_uris'] },
      { kind: 'user', id: 'ops@acme.test', action: 'updated', fields: ['name'] },
    ]);
    expect(update.client_secrets).toBeUndefined();
    const client = JSON.parse((await cli(['client', 'show', 'acme-portal', '--json'])).stdout) as { redirect_uris: string[]; client_name: string };
    expect(client).toMatchObject({ client_name: 'Acme portal', redirect_uris: ['https://portal.acme.test/callback'] });
    // The password in the file was not applied to the existing person.
    const { verifyPassword } = await import('../../src/accounts/passwords.js');
    const { openDatabase } = await import('../../src/db/client.js');
    const db = await openDatabase(database.url);
    try {
      const row = await db.prisma.user.findUniqueOrThrow({ where: { email: 'ops@acme.test' } });
      expect(await verifyPassword(row.passwordHash ?? '', PASSWORD)).toBe(true);
    } finally {
      await db.close();
    }
    expect((JSON.parse((await cli(['seed', file('acme2.json', changed), '--json'])).stdout) as SeedJson).changed).toBe(0);
  });

  test('--secrets-out writes new secrets to a 0600 file and never overwrites one', async () => {
    const out = path.join(cli.cwd, 'secrets.json');
    const seed = { clients: [{ client_id: 'batch-job', name: 'Batch', profile: 'service', apis: [] }] };
    const run = await cli(['seed', file('batch.json', { ...seed, apis: [{ identifier: 'urn:batch:api', name: 'B', scopes: ['run'] }], clients: [{ ...seed.clients[0], apis: [{ identifier: 'urn:batch:api', scopes: ['run'] }] }] }), '--secrets-out', out]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toMatch(/ghs_/);
    expect(run.stdout).toMatch(/client secrets written to/);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual({ 'batch-job': expect.stringMatching(/^ghs_/) });
    const taken = await cli(['seed', file('batch2.json', { clients: [{ client_id: 'batch-job-2', name: 'Batch 2', profile: 'web', redirect_uris: ['https://b.test/cb'] }] }), '--secrets-out', out]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/already exists \(secrets are never overwritten\); nothing was changed/);
    expect((await cli(['client', 'show', 'batch-job-2'])).code).toBe(1);
    // A run that creates no client needs no secrets file, so an existing one is no obstacle.
    expect((await cli(['seed', file('batch3.json', { apis: [{ identifier: 'urn:batch:api', name: 'B', scopes: ['run'] }] }), '--secrets-out', out])).code).toBe(0);
  });

  test('finding 15.12: a wildcard host and control characters in names are refused with exit 2, naming each field', async () => {
    const wildcard = await cli(['seed', file('wildcard.json', {
      apis: [{ identifier: 'urn:ctl:api', name: 'Bell\u0007', scopes: ['a'] }],
      clients: [
        { client_id: 'wild', name: 'Wild', profile: 'web', redirect_uris: ['https://*.example.com/cb'], post_logout_redirect_uris: ['https://*.example.com/bye'], cors_origins: ['https://*.example.com'] },
        { client_id: 'escape', name: 'Esc\u001b[2J', profile: 'spa', redirect_uris: ['https://ok.test/cb'] },
      ],
    })]);
    expect(wildcard.code).toBe(2);
    expect(wildcard.stderr).toContain('apis[0].name: must not contain control characters');
    expect(wildcard.stderr).toContain('clients[0].redirect_uris[0]: must not contain a wildcard (*) in the host');
    expect(wildcard.stderr).toContain('clients[0].post_logout_redirect_uris[0]: must not contain a wildcard (*) in the host');
    expect(wildcard.stderr).toContain('clients[0].cors_origins[0]: must not contain a wildcard (*) in the host');
    expect(wildcard.stderr).toContain('clients[1].name: must not contain control characters');
    expect(wildcard.stderr.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f]/);
    expect((await cli(['client', 'show', 'wild'])).code).toBe(1);
  });

  test('errors point into the file and nothing is written', async () => {
    const bad = {
      apis: [{ identifier: 'urn:ok:api', name: 'OK', scopes: ['a'] }],
      clients: [
        { client_id: 'ok-client', name: 'OK', profile: 'web', redirect_uris: ['https://ok.test/cb'] },
        { client_id: 'ok-client', name: 'Dup', profile: 'spa', redirect_uris: ['https://ok.test/cb'] },
        { client_id: 'third', name: 'Bad', profile: 'web', redirect_uris: ['not a url'], apis: [{ identifier: 'urn:missing:api', scopes: [] }] },
      ],
      users: [{ email: 'weak@ok.test', password: 'short' }],
    };
    const run = await cli(['seed', file('bad.json', bad)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('clients[2].redirect_uris[0]: must be an absolute URL');
    expect(run.stderr).toContain('clients[1].client_id: "ok-client" appears earlier in the file');
    expect(run.stderr).toContain('users[0].password: must be at least');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect((await cli(['api', 'show', 'urn:ok:api'])).code).toBe(1);

    const missingApi = await cli(['seed', file('missing.json', { clients: [{ client_id: 'needs-api', name: 'N', profile: 'service', apis: [{ identifier: 'urn:missing:api', scopes: ['x'] }] }] })]);
    expect(missingApi.code).toBe(2);
    expect(missingApi.stderr).toContain('clients[0].apis[0].identifier: no API "urn:missing:api" in this file or already registered');

    const unknownField = await cli(['seed', file('unknown.json', { clients: [], extra: 1 })]);
    expect(unknownField.code).toBe(2);
    expect(unknownField.stderr).toContain('extra: is not a recognised field');
    const notJson = await cli(['seed', file('broken.json', '{ "apis": [ }')]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/is not valid JSON/);
    const noFile = await cli(['seed', path.join(cli.cwd, 'absent.json')]);
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toMatch(/cannot read .*absent\.json: ENOENT/);
  });
});
