// Polling for a state the code under test reaches in its own time (a key refresh, a CLI's
// effect on running servers): the assertion is on the state, with a bound, not on a duration.

/** Polls `check` every 200 ms until it gives a value, or fails after `seconds`. */
export async function eventually<T>(seconds: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${seconds}s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
