// At most `limit` calls of an async operation at once; the rest wait their turn, first come first
// served. For work whose cost grows with how much of it runs together (argon2id holds its memory
// for as long as it runs).
export type ConcurrencyLimit = <T>(work: () => Promise<T>) => Promise<T>;

export function concurrencyLimit(limit: number): ConcurrencyLimit {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a concurrency limit must be a whole number of at least 1, not ${limit}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    const next = waiting.shift();
    // The finished call's slot passes straight to the next waiter, so `running` never overshoots.
    if (next) next();
    else running -= 1;
  };
  return async (work) => {
    if (running < limit) running += 1;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await work();
    } finally {
      release();
    }
  };
}
