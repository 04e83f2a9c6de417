// `gatehouse client ...` and `gatehouse api ...` as a subprocess, on SQLite and PostgreSQL.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';

// Each CLI command is a process start (about a second; more on a loaded machine).
jest.setTimeout(300_000);

type ClientJson = { introspection_signed_response_alg?: string | null; token_endpoint_auth_method?: string; client_id: string; client_secret?: string; client_name: string; profile: string; type: string; grant_types: string[]; apis: { identifier: string; scopes: string[] }[]; disabled: boolean; default_api: string | null; redirect_uris: string[]; client_secrets: unknown[] };

describe.each(PROVIDERS)('admin CLI: clients and APIs (%s)', (provider) => {
  let database: TestDatabase;
  let cli: Cli;
  let gh: TestGatehouse;

  beforeAll(async () => {
    database = await freshDatabase(provider);
    cli = cliFor(database);
    gh = await startGatehouse(provider, {}, database);
  });
  afterAll(async () => {
    await gh?.close();
    await database?.drop();
  });

  test('a service client created with --api gets a client_credentials token with the secret printed once', async () => {
    await cli.json(['api', 'create', '--identifier', 'urn:x:api', '--name', 'X', '--scope', 'read', '--scope', 'write']);
    const run = await cli(['client', 'create', '--name', 'x', '--type', 'service', '--api', 'urn:x:api=read', '--json']);
    expect(run.code).toBe(0);
    const created = JSON.parse(run.stdout) as ClientJson;
    expect(created.client_id).toEqual(expect.any(String));
    expect(created.client_secret).toMatch(/^ghs_/);
    expect(created).toMatchObject({ profile: 'service', type: 'confidential', grant_types: ['client_credentials'], default_api: 'urn:x:api' });
    expect(created.apis).toEqual([{ identifier: 'urn:x:api', scopes: ['read'] }]);
    expect(run.stderr).toMatch(/shown only now/);

    const token = await postForm(endpoints(gh).token, { grant_type: 'client_credentials', scope: 'read' }, { authorization: basicAuth(created.client_id, created.client_secret!) });
    expect(token.status).toBe(200);
    expect(token.body).toMatchObject({ token_type: 'Bearer', scope: 'read' });
    const payload = JSON.parse(Buffer.from(String(token.body.access_token).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(payload.aud).toBe('urn:x:api');

    // Never again: show, list and their JSON carry no secret and no hash.
    for (const args of [['client', 'show', created.client_id], ['client', 'list']]) {
      const text = await cli(args);
      const asJson = await cli([...args, '--json']);
      for (const out of [text.stdout, asJson.stdout]) {
        expect(out).toContain(created.client_id);
        expect(out).not.toContain(created.client_secret);
        expect(out).not.toMatch(/ghs_|sha256\$/);
      }
    }
  });

  test('client list and show print aligned tables and key/value blocks; --json parses', async () => {
    const web = await cli.json<ClientJson>(['client', 'create', '--name', 'Notes', '--type', 'web', '--redirect-uri', 'https://notes.example.com/callback']);
    const list = await cli(['client', 'list']);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^CLIENT_ID\s+NAME\s+PROFILE\s+AUTH\s+STATUS\s+CREATED$/);
    const row = lines.find((l) => l.startsWith(web.client_id))!;
    // Columns line up: NAME starts at the same offset in the header and in the row.
    expect(row.indexOf('Notes')).toBe(lines[0]!.indexOf('NAME'));
    const listed = await cli.json<ClientJson[]>(['client', 'list']);
    expect(listed.map((c) => c.client_id)).toContain(web.client_id);

    const show = await cli(['client', 'show', web.client_id]);
    expect(show.stdout).toMatch(/redirect_uris:\s+https:\/\/notes\.example\.com\/callback/);
    expect(show.stdout).toMatch(/grant_types:\s+authorization_code, refresh_token/);
  });

  test('client update changes only what is given and re-validates; disable, enable, rotate-secret, delete', async () => {
    const web = await cli.json<ClientJson>(['client', 'create', '--name', 'Wiki', '--type', 'web', '--redirect-uri', 'https://wiki.example.com/cb']);
    const updated = await cli.json<ClientJson>(['client', 'update', web.client_id, '--redirect-uri', 'https://wiki.example.com/cb2', '--name', 'Wiki 2']);
    expect(updated).toMatchObject({ client_name: 'Wiki 2', redirect_uris: ['https://wiki.example.com/cb2'], profile: 'web' });
    expect(updated.client_secret).toBeUndefined();

    const bad = await cli(['client', 'update', web.client_id, '--redirect-uri', 'http://wiki.example.com/cb']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^gatehouse: invalid client metadata: redirect_uris\[0\]: must use https/m);
    const nothing = await cli(['client', 'update', web.client_id]);
    expect(nothing.code).toBe(2);

    const disabled = await cli.json<ClientJson>(['client', 'disable', web.client_id]);
    expect(disabled.disabled).toBe(true);
    const stillOld = await postForm(endpoints(gh).token, { grant_type: 'client_credentials' }, { authorization: basicAuth(web.client_id, web.client_secret!) });
    expect(stillOld.status).toBe(401);
    expect((await cli.json<ClientJson>(['client', 'enable', web.client_id])).disabled).toBe(false);

    const rotated = await cli.json<{ client_id: string; client_secret: string; previous_secret_expires_at: string }>(['client', 'rotate-secret', web.client_id, '--overlap', '1h']);
    expect(rotated.client_secret).toMatch(/^ghs_/);
    expect(rotated.client_secret).not.toBe(web.client_secret);
    const overlapEnds = Date.parse(rotated.previous_secret_expires_at) - Date.now();
    expect(overlapEnds).toBeGreaterThan(55 * 60_000);
    expect(overlapEnds).toBeLessThanOrEqual(3600_000);
    const badOverlap = await cli(['client', 'rotate-secret', web.client_id, '--overlap', 'soon']);
    expect(badOverlap.code).toBe(2);
    expect(badOverlap.stderr).toMatch(/--overlap.*must be a duration/);

    const deleted = await cli(['client', 'delete', web.client_id]);
    expect(deleted.code).toBe(0);
    const gone = await cli(['client', 'show', web.client_id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe(`gatehouse: no client with client_id ${web.client_id}\n`);
  });

  test('unknown ids exit 1, invalid input and usage errors exit 2, each with one line and no stack', async () => {
    const cases: [string[], number, RegExp][] = [
      [['client', 'show', 'no-such-client'], 1, /no client with client_id no-such-client/],
      [['client', 'disable', 'no-such-client'], 1, /no client with client_id/],
      [['client', 'delete', 'no-such-client'], 1, /no client with client_id/],
      [['client', 'create', '--name', 'y', '--type', 'web', '--redirect-uri', 'not a url'], 2, /redirect_uris\[0\]: must be an absolute URL/],
      [['client', 'create', '--name', 'y', '--type', 'toaster'], 2, /argument 'toaster' is invalid/],
      [['client', 'create', '--type', 'web'], 2, /--name is required/],
      [['client', 'create', '--name', 'y', '--type', 'service', '--api', 'urn:none:here'], 2, /no API is registered with identifier "urn:none:here"/],
      [['client', 'create', '--name', 'y', '--type', 'service', '--jwks-file', '/nonexistent.json', '--auth-method', 'private_key_jwt'], 2, /cannot read \/nonexistent\.json/],
      [['api', 'create', '--identifier', 'ftp://x', '--name', 'X'], 2, /identifier: must use https/],
      [['api', 'show', 'urn:no:api'], 1, /no API with identifier urn:no:api/],
      [['api', 'delete', 'urn:no:api'], 1, /no API with identifier/],
      [['nonsense'], 2, /unknown command 'nonsense'/],
    ];
    for (const [args, code, message] of cases) {
      const run = await cli(args);
      expect({ args, code: run.code }).toEqual({ args, code });
      expect(run.stderr).toMatch(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(run.stdout).toBe('');
    }
  });

  test('finding 15.12: terminal control characters in client and API names, and a wildcard host, exit 2 naming the field', async () => {
    const ESCAPES = '\u001b]0;owned\u0007\u001b[2J';
    await cli.json(['api', 'create', '--identifier', 'urn:ctl:api', '--name', 'Plain', '--scope', 'read']);
    const web = await cli.json<ClientJson>(['client', 'create', '--name', 'plain', '--type', 'web', '--redirect-uri', 'https://plain.example.com/cb']);
    const cases: [string[], RegExp][] = [
      [['client', 'create', '--name', `evil${ESCAPES}`, '--type', 'service'], /^gatehouse: invalid client metadata: name: must not contain control characters$/m],
      [['client', 'update', web.client_id, '--name', `tab\there`], /name: must not contain control characters/],
      [['api', 'create', '--identifier', 'urn:ctl:other', '--name', `evil${ESCAPES}`, '--scope', 'read'], /name: must not contain control characters/],
      [['api', 'update', 'urn:ctl:api', '--name', `bell\u0007`], /name: must not contain control characters/],
      [['api', 'create', '--identifier', `urn:ctl:${ESCAPES}`, '--name', 'X', '--scope', 'read'], /identifier: must not contain control characters/],
      [['client', 'create', '--name', 'y', '--type', 'web', '--redirect-uri', 'https://*.example.com/cb'], /redirect_uris\[0\]: must not contain a wildcard \(\*\) in the host/],
      [['client', 'create', '--name', 'y', '--type', 'web', '--redirect-uri', `https://ok.example.com/cb${ESCAPES}`], /redirect_uris\[0\]: must not contain control characters/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
      // The refused value is never echoed: no control character reaches the terminal.
      expect(run.stderr.replace(/\n/g, '')).not.toMatch(/[\u0000-\u001f\u007f]/);
      expect(run.stdout).toBe('');
    }
    expect((await cli.json<{ name: string }>(['api', 'show', 'urn:ctl:api'])).name).toBe('Plain');
    expect((await cli.json<ClientJson>(['client', 'show', web.client_id])).client_name).toBe('plain');
  });

  test('client create --type resource-server --api registers an API\'s credentials: introspection only, no tokens', async () => {
    await cli.json(['api', 'create', '--identifier', 'urn:rs:api', '--name', 'RS', '--scope', 'read']);
    const created = await cli.json<ClientJson>(['client', 'create', '--name', 'RS API', '--type', 'resource-server', '--api', 'urn:rs:api']);
    expect(created).toMatchObject({ profile: 'resource-server', type: 'confidential', grant_types: [], apis: [], default_api: 'urn:rs:api' });
    expect(created.client_secret).toMatch(/^ghs_/);
    const auth = basicAuth(created.client_id, created.client_secret!);
    // It authenticates at the introspection endpoint; an unknown token is inactive.
    const introspected = await postForm(endpoints(gh).introspection, { token: 'no-such-token' }, { authorization: auth });
    expect({ status: introspected.status, body: introspected.body }).toEqual({ status: 200, body: { active: false } });
    // It gets no tokens of its own.
    const token = await postForm(endpoints(gh).token, { grant_type: 'client_credentials' }, { authorization: auth });
    expect(token.status).toBe(400);
    expect(token.body).toMatchObject({ error: 'invalid_request', error_description: 'requested grant type is not allowed for this client' });

    for (const [args, message] of [
      [['--api', 'urn:rs:api', '--api', 'urn:x:api'], /exactly one --api/],
      [[], /exactly one --api/],
      [['--api', 'urn:rs:api=read'], /without scopes/],
      [['--api', 'urn:rs:none'], /no API is registered with identifier "urn:rs:none"/],
      [['--api', 'urn:rs:api', '--grant-type', 'client_credentials'], /--grant-type does not apply/],
    ] as const) {
      const run = await cli(['client', 'create', '--name', 'bad', '--type', 'resource-server', ...args]);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
    }
  });

  test('client update moves a client to and from resource-server; --introspection-signed-response-alg is set and cleared', async () => {
    await cli.json(['api', 'create', '--identifier', 'urn:mv:api', '--name', 'Move', '--scope', 'read']);
    const worker = await cli.json<ClientJson>(['client', 'create', '--name', 'worker', '--type', 'service', '--api', 'urn:mv:api']);
    expect(worker).toMatchObject({ profile: 'service', grant_types: ['client_credentials'], default_api: 'urn:mv:api' });

    const refused = await cli(['client', 'update', worker.client_id, '--type', 'resource-server']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/client update: --type resource-server needs exactly one --api/);

    const rs = await cli.json<ClientJson>(['client', 'update', worker.client_id, '--type', 'resource-server', '--api', 'urn:mv:api', '--introspection-signed-response-alg', 'RS256']);
    expect(rs).toMatchObject({ profile: 'resource-server', type: 'confidential', grant_types: [], apis: [], default_api: 'urn:mv:api', introspection_signed_response_alg: 'RS256' });
    // It keeps its secret: the credentials of the worker are now the API's.
    expect(rs.client_secret).toBeUndefined();
    expect((await cli(['client', 'show', worker.client_id])).stdout).toMatch(/introspection_alg:\s+RS256/);

    const back = await cli.json<ClientJson>(['client', 'update', worker.client_id, '--type', 'service', '--api', 'urn:mv:api=read', '--no-introspection-signed-response-alg']);
    expect(back).toMatchObject({ profile: 'service', grant_types: ['client_credentials'], apis: [{ identifier: 'urn:mv:api', scopes: ['read'] }], default_api: 'urn:mv:api', introspection_signed_response_alg: null });

    // A public client cannot call the introspection endpoint, so cannot ask for signed answers.
    const spa = await cli(['client', 'create', '--name', 'spa', '--type', 'spa', '--redirect-uri', 'https://spa.example.com/cb', '--introspection-signed-response-alg', 'RS256']);
    expect(spa.code).toBe(2);
    expect(spa.stderr).toMatch(/introspection_signed_response_alg: is only for confidential clients/);
    const badAlg = await cli(['client', 'update', worker.client_id, '--introspection-signed-response-alg', 'none']);
    expect(badAlg.code).toBe(2);
    expect(badAlg.stderr).toMatch(/Allowed choices are RS256/);
  });

  test('api create, list, show, update and delete', async () => {
    const api = await cli.json<{ identifier: string; access_token_ttl: number }>(['api', 'create', '--identifier', 'https://billing.example.com', '--name', 'Billing', '--scope', 'invoices:read', '--token-ttl', '10m']);
    expect(api).toMatchObject({ identifier: 'https://billing.example.com', access_token_ttl: 600 });
    const duplicate = await cli(['api', 'create', '--identifier', 'https://billing.example.com', '--name', 'Again']);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/already exists/);

    const list = await cli(['api', 'list']);
    expect(list.stdout).toMatch(/^IDENTIFIER\s+NAME\s+TOKEN_TTL\s+SCOPES$/m);
    expect(list.stdout).toMatch(/https:\/\/billing\.example\.com\s+Billing\s+10m\s+invoices:read/);

    const updated = await cli.json<{ scopes: string[]; name: string }>(['api', 'update', 'https://billing.example.com', '--scope', 'invoices:read', '--scope', 'invoices:write', '--name', 'Billing API']);
    expect(updated).toMatchObject({ name: 'Billing API', scopes: ['invoices:read', 'invoices:write'] });
    expect((await cli(['api', 'show', 'https://billing.example.com'])).stdout).toMatch(/scopes:\s+invoices:read, invoices:write/);
    const tooLong = await cli(['api', 'update', 'https://billing.example.com', '--token-ttl', '2d']);
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr).toMatch(/access_token_ttl: must be at most 86400 seconds/);

    expect((await cli(['api', 'delete', 'https://billing.example.com'])).code).toBe(0);
    expect((await cli(['api', 'show', 'https://billing.example.com'])).code).toBe(1);
  });

  test('--help works on every command without touching the database', async () => {
    const offline = cliFor({ ...database, url: 'postgresql://nobody@127.0.0.1:1/none' });
    for (const args of [[], ['client'], ['client', 'create'], ['client', 'rotate-secret'], ['api', 'create'], ['user', 'create'], ['user', 'sessions'], ['keys', 'rotate'], ['keys', 'retire'], ['audit', 'tail'], ['seed']]) {
      const run = await offline([...args, '--help']);
      expect({ args, code: run.code }).toEqual({ args, code: 0 });
      expect(run.stdout).toMatch(/^Usage: gatehouse/);
    }
  });
});
