// One running Gatehouse for the tests of a describe block: started in beforeAll, closed in
// afterAll. The returned object is live: it forwards to the instance once beforeAll has run, so
// tests and further hooks use it as they would the result of startGatehouse.
import { afterAll, beforeAll } from '@jest/globals';
import type { Provider } from './databases.js';
import { startGatehouse, type TestGatehouse } from './gatehouse.js';
import { liveObject } from './use-before-all.js';

/** Call in a describe body; `env` overrides configuration variables as for startGatehouse. */
export function useGatehouse(provider: Provider, env: Record<string, string> = {}): TestGatehouse {
  const live = liveObject<TestGatehouse>('the instance of useGatehouse');
  let running: TestGatehouse | undefined;
  beforeAll(async () => {
    running = await startGatehouse(provider, env);
    live.set(running);
  });
  afterAll(async () => {
    live.set(undefined);
    await running?.close();
  });
  return live.value;
}
