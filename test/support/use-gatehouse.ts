// One running Gatehouse for the tests of a describe block: started in beforeAll, closed in
// afterAll. The returned object is live: it forwards to the instance once beforeAll has run, so
// tests and further hooks use it as they would the result of startGatehouse.
import { afterAll, beforeAll } from '@jest/globals';
import type { Provider } from './databases.js';
import { startGatehouse, type TestGatehouse } from './gatehouse.js';

/** Call in a describe body; `env` overrides configuration variables as for startGatehouse. */
export function useGatehouse(provider: Provider, env: Record<string, string> = {}): TestGatehouse {
  let running: TestGatehouse | undefined;
  beforeAll(async () => {
    running = await startGatehouse(provider, env);
  });
  afterAll(async () => {
    await running?.close();
    running = undefined;
  });
  const current = (): TestGatehouse => {
    // A clear failure beats an undefined property when the instance is used outside the hooks.
    if (!running) throw new Error('useGatehouse: the instance exists only between beforeAll and afterAll');
    return running;
  };
  return new Proxy({} as TestGatehouse, {
    get: (_target, key) => Reflect.get(current(), key) as unknown,
    has: (_target, key) => Reflect.has(current(), key),
    ownKeys: () => Reflect.ownKeys(current()),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(current(), key);
      // The empty target has no such property, so the proxy may only report it as configurable.
      return descriptor && { ...descriptor, configurable: true };
    },
  });
}
