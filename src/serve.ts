// Runs one serving process: config -> database -> keys -> app -> listen; graceful shutdown on
// signals. `node dist/server.js` runs it directly; each worker of `node dist/cluster.js` runs it
// with `sweep: false` (the cluster's primary sweeps, once for all workers).
import type { GatehouseConfig } from './config.js';
import { createGatehouse, listen, StartupError, type GatehouseOptions } from './gatehouse.js';
import { KeyDecryptionError } from './keys/encryption.js';
import type { Logger } from './logger.js';

export async function serve(config: GatehouseConfig, logger: Logger, options: GatehouseOptions = {}): Promise<void> {
  try {
    const running = await listen(await createGatehouse(config, logger, options), logger);
    logger.info(
      { issuer: config.issuer, listening: running.url, discovery: `${config.issuer}/.well-known/openid-configuration`, database: config.database.provider },
      `Gatehouse issuer ${config.issuer} is ready; discovery at ${config.issuer}/.well-known/openid-configuration`,
    );
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        logger.info({ signal }, 'shutting down: draining in-flight requests');
        running.stop().then(
          () => {
            logger.info('stopped');
            process.exit(0);
          },
          (err: unknown) => {
            logger.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      });
    }
  } catch (error) {
    reportStartupFailure(error, logger);
    process.exit(1);
  }
}

/** Known start-up failures get their message alone; anything else is logged in full. */
export function reportStartupFailure(error: unknown, logger: Logger): void {
  if (error instanceof StartupError || error instanceof KeyDecryptionError) {
    process.stderr.write(`Gatehouse cannot start: ${error.message}\n`);
  } else {
    logger.fatal({ err: error }, 'start-up failed');
    process.stderr.write(`Gatehouse cannot start: ${(error as Error).message}\n`);
  }
}
