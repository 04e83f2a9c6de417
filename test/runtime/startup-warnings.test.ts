// The runtime Gatehouse runs on is a supported one (package.json engines: Node 22 LTS or 24 LTS
// and later) and our own code calls no deprecated Node API. Run on each runtime CI uses (.ci/run).
//
// Node reports a deprecated API once per process, and documentation-only deprecations not at
// all, so the processes run with --pending-deprecation (report those too) and
// --trace-deprecation (with the stack, to tell our code from a dependency's). Warnings whose
// caller is in node_modules are dependencies' (README, Production, lists them); any other is ours.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { basicAuth, postForm } from '../support/oauth-http.js';
import { cliFor } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { spawnGatehouse, type GatehouseProcess } from '../support/process.js';

jest.setTimeout(180_000);

const EXAMPLE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../prisma/seed.example.json');
const NODE_OPTIONS = '--trace-deprecation --pending-deprecation';

type Deprecation = { warning: string; caller: string | undefined };

/** Each DeprecationWarning in the output with the first stack frame outside Node itself. */
function deprecations(output: string): Deprecation[] {
  const lines = output.split('\n');
  const found: Deprecation[] = [];
  lines.forEach((line, i) => {
    if (!line.includes('DeprecationWarning')) return;
    let caller: string | undefined;
    for (let j = i + 1; j < lines.length && /^\s+at /.test(lines[j]!); j++) {
      if (!/\(node:|at node:/.test(lines[j]!)) {
        caller = lines[j]!.trim();
        break;
      }
    }
    found.push({ warning: line.trim(), caller });
  });
  return found;
}

/** Ours: a caller outside node_modules, or none that could be told (then it cannot be excused). */
const ours = (found: Deprecation[]) => found.filter((d) => d.caller === undefined || !d.caller.includes('/node_modules/'));

describe.each(PROVIDERS)('runtime warnings (%s)', (provider) => {
  let database: TestDatabase;
  let server: GatehouseProcess;

  beforeAll(async () => {
    database = await freshDatabase(provider);
    server = await spawnGatehouse({ env: { DATABASE_URL: database.url, NODE_OPTIONS } });
  });
  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  test('start-up, seeding and a token: no "Unsupported runtime", no deprecated Node API called by our code', async () => {
    const cli = cliFor(database, { NODE_OPTIONS });
    const seeded = await cli(['seed', EXAMPLE, '--json']);
    expect(seeded.code).toBe(0);
    const secrets = (JSON.parse(seeded.stdout) as { client_secrets: Record<string, string> }).client_secrets;
    const token = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basicAuth('example-service', secrets['example-service']!) });
    expect(token.status).toBe(200);
    await server.stop();

    const serverOutput = server.logs.join('\n');
    for (const output of [serverOutput, seeded.stderr]) {
      expect(output).not.toContain('Unsupported runtime');
      expect(ours(deprecations(output))).toEqual([]);
    }
    // The server did run with the options that make deprecations visible.
    expect(serverOutput).toMatch(/Gatehouse issuer .* is ready/);
  });
});
