// Assembles a running Gatehouse from a configuration: database, migrations (embedded mode),
// keys, provider, app. server.ts is the process entry; tests start instances through here.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { GatehouseConfig } from './config.js';
import { openDatabase, isDatabaseReachable, type Database } from './db/client.js';
import { applyMigrations, databaseTargetFromUrl, migrationStatus } from './db/migrations.js';
import { startSweeper, sweepExpiredArtifacts, type Sweeper } from './db/sweeper.js';
import { createApp } from './http/app.js';
import { interactionRoutes } from './interactions/routes.js';
import { loadCookieKeys } from './keys/cookie-keys.js';
import { deriveKeyEncryptionKey } from './keys/encryption.js';
import { resolveKeyEncryptionSecret } from './keys/key-encryption-secret.js';
import { ensureSigningKey, loadProviderJwks } from './keys/signing-keys.js';
import type { Logger } from './logger.js';
import { createProvider } from './oidc/provider.js';
import type { FeatureDependencies } from './oidc/feature.js';
import { installSignIn, signInConfiguration } from './oidc/sign-in.js';
import { installRefreshTokenAudit, refreshTokenConfiguration } from './oidc/refresh-tokens.js';
import { installServices, servicesConfiguration } from './oidc/services.js';
import { clientMetadataLookup } from './clients/provider-metadata.js';
import { createAuditWriter } from './audit/audit.js';

export type Gatehouse = {
  config: GatehouseConfig;
  db: Database;
  provider: Provider;
  app: Koa;
  sweeper: Sweeper;
};

export class StartupError extends Error {
  override name = 'StartupError';
}

/** Brings the database schema up to date (embedded SQLite) or checks it is (PostgreSQL). */
async function prepareSchema(config: GatehouseConfig, logger: Logger): Promise<void> {
  const target = databaseTargetFromUrl(config.database.url);
  if (target.provider === 'sqlite') {
    const { applied } = await applyMigrations(target, { log: (msg) => logger.info(msg) });
    if (applied.length) logger.info({ applied }, 'applied database migrations');
    return;
  }
  // On PostgreSQL, schema changes are an operator's deliberate step (`npm run db:migrate`),
  // run once per deploy rather than raced by every instance at start.
  const status = await migrationStatus(target);
  if (status.pending.length || status.failed.length || !status.hasMigrationsTable) {
    throw new StartupError(
      `the PostgreSQL schema is not up to date (${status.pending.length} pending, ${status.failed.length} failed migrations): run \`npm run db:migrate\``,
    );
  }
}

export async function createGatehouse(config: GatehouseConfig, logger: Logger): Promise<Gatehouse> {
  await prepareSchema(config, logger);
  const db = await openDatabase(config.database.url, { onPoolError: (err) => logger.warn({ err }, 'database pool error') });
  try {
    const { secret, generated } = resolveKeyEncryptionSecret(config.keyEncryptionSecret, config.dataDir);
    if (generated) logger.warn({ dataDir: config.dataDir }, 'generated a key-encryption secret in the data directory (embedded mode only)');
    const kek = deriveKeyEncryptionKey(secret);
    await ensureSigningKey(db.prisma, kek);
    const [jwks, cookieKeys] = await Promise.all([loadProviderJwks(db.prisma, kek), loadCookieKeys(db.prisma, kek)]);

    const features: FeatureDependencies = { config, prisma: db.prisma, logger, audit: createAuditWriter(db.prisma, logger) };
    const signIn = signInConfiguration(features);
    const provider = createProvider({
      config,
      prisma: db.prisma,
      jwks,
      cookieKeys,
      findClient: clientMetadataLookup(db.prisma),
      extensions: [signIn, servicesConfiguration(features), refreshTokenConfiguration(features, signIn)],
    });
    installServices(provider, features);
    installSignIn(provider, features);
    installRefreshTokenAudit(provider, features);
    const app = createApp({
      config,
      provider,
      logger,
      cookieKeys,
      isReady: () => isDatabaseReachable(db),
      routers: [interactionRoutes(provider, features)],
    });
    const sweeper = startSweeper(() => sweepExpiredArtifacts(db.prisma), config.sweepIntervalSeconds, (err) => logger.warn({ err }, 'sweep failed'));
    return { config, db, provider, app, sweeper };
  } catch (error) {
    await db.close();
    throw error;
  }
}

export type RunningGatehouse = Gatehouse & { server: Server; url: string; stop(): Promise<void> };

/** Listens, and returns a stop() that drains in-flight requests before closing the database. */
export async function listen(gatehouse: Gatehouse, logger: Logger): Promise<RunningGatehouse> {
  const { config } = gatehouse;
  const server = gatehouse.app.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      gatehouse.sweeper.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timeout = setTimeout(() => {
        logger.warn('shutdown timeout: closing remaining connections');
        server.closeAllConnections();
      }, config.shutdownTimeoutSeconds * 1000);
      timeout.unref();
      await closed;
      clearTimeout(timeout);
      await gatehouse.db.close();
    })());
  return { ...gatehouse, server, url, stop };
}
