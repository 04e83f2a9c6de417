// README's quick start, end to end: from an empty database to a signed-in person at a registered
// web client using only the CLI (seed + user create) and the running server.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizeAndSignIn, exchangeCode, PASSWORD, TestBrowser, userinfo, verifyIdToken } from '../support/signin.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';

// Each CLI command is a process start (about a second; more on a loaded machine).
jest.setTimeout(300_000);

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../prisma/seed.example.json');

describe('quick start through the CLI (sqlite)', () => {
  let database: TestDatabase;
  let cli: Cli;
  let gh: TestGatehouse;

  beforeAll(async () => {
    database = await freshDatabase('sqlite');
    cli = cliFor(database);
    gh = await startGatehouse('sqlite', {}, database);
  });
  afterAll(async () => {
    await gh?.close();
  });

  test('seed the example, create a person, sign in at example-web, and call the API as example-service', async () => {
    const seeded = JSON.parse((await cli(['seed', EXAMPLE, '--json'])).stdout) as { client_secrets: Record<string, string> };
    const user = await cli(['user', 'create', '--email', 'you@example.com', '--name', 'You', '--password-stdin'], { input: PASSWORD });
    expect(user.code).toBe(0);

    const web = { clientId: 'example-web', clientSecret: seeded.client_secrets['example-web']!, redirectUri: 'http://localhost:8080/callback', postLogoutRedirectUri: 'http://localhost:8080/' };
    const browser = new TestBrowser(gh);
    const { callback, verifier, nonce } = await authorizeAndSignIn(gh, browser, web, 'you@example.com');
    expect(callback.error).toBeNull();
    const tokens = await exchangeCode(gh, web, callback.code!, verifier);
    expect(tokens.status).toBe(200);
    const claims = await verifyIdToken(gh, String(tokens.body.id_token), 'example-web');
    expect(claims).toMatchObject({ nonce, aud: 'example-web' });
    const info = await userinfo(gh, String(tokens.body.access_token));
    expect(info.body).toMatchObject({ sub: claims.sub, name: 'You', email: 'you@example.com' });

    const service = await postForm(endpoints(gh).token, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basicAuth('example-service', seeded.client_secrets['example-service']!) });
    expect(service.status).toBe(200);
    expect(service.body.scope).toBe('orders:read');
  });

  test('a command on a database file that does not exist yet creates and migrates it', async () => {
    const fresh = cliFor({ provider: 'sqlite', url: `file:${path.join(cli.cwd, 'brand-new', 'gatehouse.db')}`, drop: async () => undefined });
    const run = await fresh(['api', 'list', '--json']);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toEqual([]);
  });
});
