// Starts a real Gatehouse on an ephemeral port against a fresh database, in this process.
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { parseConfig, type GatehouseConfig } from '../../src/config.js';
import { createGatehouse, listen, type RunningGatehouse } from '../../src/gatehouse.js';
import { createLogger } from '../../src/logger.js';
import { freePort } from './free-port.js';
import { freshDatabase, type Provider, type TestDatabase } from './databases.js';
import { TEST_KEY_ENCRYPTION_SECRET } from './key-secret.js';

export type TestGatehouse = RunningGatehouse & { database: TestDatabase; logs: string[]; close(): Promise<void> };

export function testConfig(overrides: Record<string, string>): GatehouseConfig {
  const result = parseConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    KEY_ENCRYPTION_SECRET: TEST_KEY_ENCRYPTION_SECRET,
    LOG_LEVEL: 'info',
    // Several instances run at once: each serves metrics on a port of its own.
    METRICS_PORT: '0',
    // Tests change clients in-process and expect the next request to see it; the cache and its
    // bound are tested on their own (test/services/client-cache.test.ts).
    CLIENT_CACHE_TTL: '0',
    ...overrides,
  });
  if (!result.ok) throw new Error(`bad test configuration: ${result.problems.join('; ')}`);
  return result.config;
}

/**
 * The issuer must be known before listening, so tests pick a free port first.
 * `env` overrides any configuration variable.
 */
export async function startGatehouse(provider: Provider, env: Record<string, string> = {}, database?: TestDatabase): Promise<TestGatehouse> {
  const db = database ?? (await freshDatabase(provider));
  const port = await freePort();
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const config = testConfig({
    DATABASE_URL: db.url,
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    DATA_DIR: mkdtempSync(path.join(process.env.GATEHOUSE_TEST_RUN_DIR ?? '/tmp', 'data-')),
    ...env,
  });
  const logger = createLogger(config.logLevel, sink);
  const running = await listen(await createGatehouse(config, logger), logger);
  return {
    ...running,
    database: db,
    logs,
    close: async () => {
      await running.stop();
      if (!database) await db.drop();
    },
  };
}

// Re-exported: the other support modules and many tests take them from here.
export { freePort, TEST_KEY_ENCRYPTION_SECRET };
