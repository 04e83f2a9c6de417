// The queue that bounds sign-in's argon2 work (src/util/concurrency-limit.ts): never more than
// its limit at once, first come first served, and a failed call gives its slot back.
import { concurrencyLimit } from '../../src/util/concurrency-limit.js';

/** A call that runs until released by hand, recording how many ran together. */
function heldCalls() {
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const releases = new Map<number, (fail: boolean) => void>();
  const call = (id: number) => () =>
    new Promise<number>((resolve, reject) => {
      running += 1;
      peak = Math.max(peak, running);
      started.push(id);
      releases.set(id, (fail) => {
        running -= 1;
        if (fail) reject(new Error(`call ${id} failed`));
        else resolve(id);
      });
    });
  return { call, started, releases, peak: () => peak };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

test('at most `limit` calls run at once; the others start in arrival order as slots free', async () => {
  const limited = concurrencyLimit(2);
  const h = heldCalls();
  const results = [1, 2, 3, 4, 5].map((id) => limited(h.call(id)));
  await turn();
  expect(h.started).toEqual([1, 2]);
  h.releases.get(2)!(false);
  await turn();
  expect(h.started).toEqual([1, 2, 3]);
  h.releases.get(1)!(false);
  h.releases.get(3)!(false);
  await turn();
  expect(h.started).toEqual([1, 2, 3, 4, 5]);
  h.releases.get(4)!(false);
  h.releases.get(5)!(false);
  expect(await Promise.all(results)).toEqual([1, 2, 3, 4, 5]);
  expect(h.peak()).toBe(2);
});

test('a call that fails passes its error on and its slot to the next call', async () => {
  const limited = concurrencyLimit(1);
  const h = heldCalls();
  const first = limited(h.call(1));
  const second = limited(h.call(2));
  await turn();
  expect(h.started).toEqual([1]);
  h.releases.get(1)!(true);
  await expect(first).rejects.toThrow('call 1 failed');
  await turn();
  expect(h.started).toEqual([1, 2]);
  h.releases.get(2)!(false);
  await expect(second).resolves.toBe(2);
  // The slot is free again: a later call starts at once.
  void limited(h.call(3));
  await turn();
  expect(h.started).toEqual([1, 2, 3]);
  expect(h.peak()).toBe(1);
});

test('a limit below 1 is refused', () => {
  expect(() => concurrencyLimit(0)).toThrow(RangeError);
});
