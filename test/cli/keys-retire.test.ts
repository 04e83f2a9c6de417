// `gatehouse keys retire` without --force never removes a key whose tokens may still be valid:
// the answer depends neither on the CLI's own environment nor on the APIs' lifetimes today.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { basicAuth, endpoints, postForm } from '../support/oauth-http.js';
import { eventually } from '../support/eventually.js';

// Each CLI command is a process start (about a second; more on a loaded machine).
jest.setTimeout(300_000);

type KeyJson = { kid: string; state: string };


const API = 'urn:retire:api';

describe.each(PROVIDERS)('keys retire (%s)', (provider) => {
  let database: TestDatabase;
  let cli: Cli;
  let gh: TestGatehouse;
  let service: { client_id: string; client_secret: string };

  const jwks = async () => (await (await fetch(endpoints(gh).jwks)).json()) as JSONWebKeySet;
  const issueToken = async () => {
    const token = await postForm(endpoints(gh).token, { grant_type: 'client_credentials' }, { authorization: basicAuth(service.client_id, service.client_secret) });
    expect(token.status).toBe(200);
    return String(token.body.access_token);
  };

  beforeAll(async () => {
    database = await freshDatabase(provider);
    cli = cliFor(database);
    gh = await startGatehouse(provider, { KEY_REFRESH_INTERVAL: '1s' }, database);
    await cli.json(['api', 'create', '--identifier', API, '--name', 'R', '--scope', 'r', '--token-ttl', '1h']);
    service = await cli.json(['client', 'create', '--name', 'svc', '--type', 'service', '--api', API]);
  });
  afterAll(async () => {
    await gh?.close();
    await database?.drop();
  });

  test('finding 24.2: a superseded key stays published while a token it signed is valid, whatever the API TTLs and the CLI environment say now', async () => {
    const [original] = await cli.json<KeyJson[]>(['keys', 'list']);
    const token = await issueToken();
    expect(decodeProtectedHeader(token).kid).toBe(original!.kid);

    const rotated = await cli.json<KeyJson>(['keys', 'rotate', '--activation-delay', '0']);
    await eventually(10, async () => (decodeProtectedHeader(await issueToken()).kid === rotated.kid ? true : undefined));
    // Two minutes pass: the successor's activation is moved back rather than waited for. The
    // token signed by the original key has most of its hour left.
    await gh.db.prisma.signingKey.update({ where: { kid: original!.kid }, data: { activatesAt: new Date(Date.now() - 30 * 86_400_000) } });
    await gh.db.prisma.signingKey.update({ where: { kid: rotated.kid }, data: { activatesAt: new Date(Date.now() - 120_000) } });
    // The API's lifetime is shortened afterwards; tokens issued before keep theirs.
    await cli.json(['api', 'update', API, '--token-ttl', '1m']);

    // Neither the CLI's own lifetimes nor the APIs' current ones change the answer.
    const short = { ID_TOKEN_TTL: '1m', ACCESS_TOKEN_TTL: '1m', KEY_REFRESH_INTERVAL: '1s' };
    for (const env of [short, {}]) {
      const refused = await cli(['keys', 'retire', original!.kid], { env });
      expect([env, refused.code, refused.stderr]).toEqual([env, 1, expect.stringMatching(/may be valid until .*--force/)]);
    }

    // Still published: resource servers verify the token with the JWKS.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const verified = await jwtVerify(token, createLocalJWKSet(await jwks()), { issuer: gh.config.issuer, audience: API });
    expect(verified.protectedHeader.kid).toBe(original!.kid);

    // Once every token the key can have signed has expired (its successor took over more than the
    // longest lifetime the configuration allows plus the longest refresh interval ago), it goes.
    await gh.db.prisma.signingKey.update({ where: { kid: rotated.kid }, data: { activatesAt: new Date(Date.now() - 25 * 3600_000 - 60_000) } });
    const retired = await cli.json<KeyJson>(['keys', 'retire', original!.kid]);
    expect(retired.state).toBe('retired');
  });
});
