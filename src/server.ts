// Process entry: config -> database -> keys -> app -> listen; graceful shutdown on signals.
import { loadConfig } from './config.js';
import { createGatehouse, listen, StartupError } from './gatehouse.js';
import { KeyDecryptionError } from './keys/encryption.js';
import { createLogger } from './logger.js';

const config = loadConfig();
const logger = createLogger(config.logLevel);

try {
  const running = await listen(await createGatehouse(config, logger), logger);
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
  // Known start-up failures get their message alone; anything else is logged in full.
  if (error instanceof StartupError || error instanceof KeyDecryptionError) {
    process.stderr.write(`Gatehouse cannot start: ${error.message}\n`);
  } else {
    logger.fatal({ err: error }, 'start-up failed');
    process.stderr.write(`Gatehouse cannot start: ${(error as Error).message}\n`);
  }
  process.exit(1);
}
