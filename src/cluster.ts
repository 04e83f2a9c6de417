// Process entry for several processes on one machine (node:cluster), WEB_CONCURRENCY workers.
//
// The primary prepares storage once (migrations, key-encryption secret, signing key) so that
// workers do not race to do it, then forks the workers, each a complete Gatehouse (src/serve.ts)
// sharing the listening port through the primary. It replaces a worker that dies, runs the
// sweeper once for all of them, and on SIGTERM/SIGINT asks every worker to drain and waits for
// them. Workers share nothing in memory: sessions, codes and tokens live in the database as for
// several instances, so everything that holds for several instances holds here (/metrics answers
// from whichever worker takes the scrape), except rate-limit counts: without REDIS_URL the primary
// keeps them for all workers (src/http/rate-limit-store.ts), so a limit is one machine's limit.
import cluster, { type Worker } from 'node:cluster';
import { loadConfig } from './config.js';
import { openDatabase } from './db/client.js';
import { prepareStorage, startSweeping } from './gatehouse.js';
import { keepClusterRateLimits } from './http/rate-limit-store.js';
import { createStdoutLogger } from './logger.js';
import { reportStartupFailure, serve } from './serve.js';

const config = loadConfig();
const logger = createStdoutLogger(config);

/** A worker that dies sooner than this after starting is "crashing at start": back off. */
const QUICK_EXIT_MS = 5000;
const MAX_RESTART_DELAY_MS = 30_000;

async function primary(): Promise<void> {
  const db = await openDatabase(config.database.url, {
    connectTimeoutMs: config.database.connectTimeoutSeconds * 1000,
    onPoolError: (err) => logger.warn({ err }, 'database pool error'),
  });
  try {
    await prepareStorage(config, db, logger);
  } catch (error) {
    await db.close();
    reportStartupFailure(error, logger);
    process.exit(1);
  }
  const sweeper = startSweeping(config, db, logger);
  if (!config.redisUrl) keepClusterRateLimits();

  let stopping = false;
  let restartDelayMs = 0;
  const startedAt = new Map<Worker, number>();
  const fork = () => startedAt.set(cluster.fork(), Date.now());

  cluster.on('exit', (worker, code, signal) => {
    const lived = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (stopping) return;
    // A worker crashing at start (bad configuration, database down) would otherwise be re-forked
    // in a tight loop: wait longer each time, up to 30 s; a worker that lived resets the wait.
    restartDelayMs = lived < QUICK_EXIT_MS ? Math.min(MAX_RESTART_DELAY_MS, Math.max(500, restartDelayMs * 2)) : 0;
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: restartDelayMs }, 'worker exited: starting a replacement');
    setTimeout(() => {
      if (!stopping) fork();
    }, restartDelayMs);
  });

  for (let i = 0; i < config.webConcurrency; i++) fork();
  logger.info({ workers: config.webConcurrency }, `Gatehouse cluster: ${config.webConcurrency} workers`);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      stopping = true;
      sweeper.stop();
      logger.info({ signal }, 'cluster shutting down: workers drain in-flight requests');
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      const exited = Promise.all(workers.map((w) => (w.isDead() ? Promise.resolve() : new Promise<void>((resolve) => w.once('exit', () => resolve())))));
      // Each worker drains for at most SHUTDOWN_TIMEOUT; past that (and a margin) it is killed.
      const timeout = setTimeout(
        () => {
          logger.warn('workers did not stop in time: killing them');
          for (const w of workers) w.process.kill('SIGKILL');
        },
        (config.shutdownTimeoutSeconds + 5) * 1000,
      );
      for (const w of workers) w.process.kill('SIGTERM');
      void exited
        .then(() => db.close())
        .then(
          () => {
            clearTimeout(timeout);
            logger.info('cluster stopped');
            process.exit(0);
          },
          (err: unknown) => {
            logger.error({ err }, 'cluster shutdown failed');
            process.exit(1);
          },
        );
    });
  }
}

if (cluster.isPrimary) await primary();
else await serve(config, logger, { sweep: false, clusterWorker: true });
