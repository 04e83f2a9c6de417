// A periodic background task (sweeping, key refresh) that never overlaps itself and never
// keeps the process alive.
export type PeriodicTask = { stop(): void };

export function runEvery(task: () => Promise<unknown>, intervalSeconds: number, onError: (error: unknown) => void): PeriodicTask {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch(onError)
      .finally(() => {
        running = false;
      });
  }, intervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
