// A value a describe block makes once in beforeAll (a running instance, a registered client),
// returned at once as a live object that forwards to the value when the tests run.
import { beforeAll } from '@jest/globals';

/** The live object, and the setter the hooks fill it with (undefined once it is gone). */
export function liveObject<T extends object>(what: string): { value: T; set(value: T | undefined): void } {
  let current: T | undefined;
  const get = (): T => {
    // A clear failure beats an undefined property when the value is used outside the tests.
    if (current === undefined) throw new Error(`${what} exists only while the tests of its describe block run`);
    return current;
  };
  const value = new Proxy({} as T, {
    get: (_target, key) => Reflect.get(get(), key) as unknown,
    has: (_target, key) => Reflect.has(get(), key),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(get(), key);
      // The empty target has no such property, so the proxy may only report it as configurable.
      return descriptor && { ...descriptor, configurable: true };
    },
  });
  return { value, set: (next) => (current = next) };
}

/**
 * Call in a describe body: `make` runs in beforeAll, after the hooks declared before it (so it can
 * use an instance from useGatehouse), and its result is what the returned object forwards to.
 */
export function useBeforeAll<T extends object>(make: () => Promise<T>): T {
  const live = liveObject<T>('a value made in beforeAll');
  beforeAll(async () => {
    live.set(await make());
  });
  return live.value;
}
