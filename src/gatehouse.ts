// Assembles a running Gatehouse from a configuration: database, migrations (embedded mode),
// keys, provider, app. server.ts is the process entry; tests start instances through here.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { GatehouseConfig } from './config.js';
import { openDatabase, isDatabaseReachable, type Database } from './db/client.js';
import { prepareSchema, schemaIsCurrent, SchemaNotReadyError } from './db/prepare-schema.js';
import { startSweeper, sweepExpiredArtifacts } from './db/sweeper.js';
import { signingKeySetVersion, watchSigningKeys } from './keys/key-refresh.js';
import type { PeriodicTask } from './util/run-every.js';
import { createApp } from './http/app.js';
import { interactionRoutes } from './interactions/routes.js';
import { loadCookieKeys } from './keys/cookie-keys.js';
import { deriveKeyEncryptionKey } from './keys/encryption.js';
import { resolveKeyEncryptionSecret } from './keys/key-encryption-secret.js';
import { ensureSigningKey, loadProviderJwks, type ProviderJwk } from './keys/signing-keys.js';
import type { Logger } from './logger.js';
import { createProvider } from './oidc/provider.js';
import type { FeatureDependencies } from './oidc/feature.js';
import { installSignIn, signInConfiguration } from './oidc/sign-in.js';
import { installRefreshTokenAudit, refreshTokenConfiguration } from './oidc/refresh-tokens.js';
import { installServices, servicesConfiguration } from './oidc/services.js';
import { deviceCodeEntryLimiters, deviceFlowConfiguration, installDeviceFlow } from './oidc/device-flow.js';
import { clientMetadataLookup } from './clients/provider-metadata.js';
import { createAuditWriter } from './audit/audit.js';

export type Gatehouse = {
  config: GatehouseConfig;
  db: Database;
  /** The provider serving now; rebuilt when the signing keys change (src/keys/key-refresh.ts). */
  provider: () => Provider;
  app: Koa;
  /** Periodic tasks (sweeping, key refresh), stopped at shutdown. */
  background: PeriodicTask[];
};

export class StartupError extends Error {
  override name = 'StartupError';
}

/** Brings the database schema up to date (embedded SQLite) or checks it is (PostgreSQL). */
async function prepareDatabaseSchema(config: GatehouseConfig, db: Database, logger: Logger): Promise<void> {
  if (await schemaIsCurrent(db)) return;
  try {
    const applied = await prepareSchema(config.database.url, (msg) => logger.info(msg));
    if (applied.length) logger.info({ applied }, 'applied database migrations');
  } catch (error) {
    if (error instanceof SchemaNotReadyError) throw new StartupError(error.message);
    throw error;
  }
}

export async function createGatehouse(config: GatehouseConfig, logger: Logger): Promise<Gatehouse> {
  const db = await openDatabase(config.database.url, { onPoolError: (err) => logger.warn({ err }, 'database pool error') });
  try {
    await prepareDatabaseSchema(config, db, logger);
    const { secret, generated } = resolveKeyEncryptionSecret(config.keyEncryptionSecret, config.dataDir);
    if (generated) logger.warn({ dataDir: config.dataDir }, 'generated a key-encryption secret in the data directory (embedded mode only)');
    const kek = deriveKeyEncryptionKey(secret);
    await ensureSigningKey(db.prisma, kek);
    const [jwks, cookieKeys] = await Promise.all([loadProviderJwks(db.prisma, kek), loadCookieKeys(db.prisma, kek)]);

    const features: FeatureDependencies = { config, prisma: db.prisma, logger, audit: createAuditWriter(db.prisma, logger) };
    const deviceLimiters = deviceCodeEntryLimiters(config);
    const signIn = signInConfiguration(features);
    const buildProvider = (signingKeys: ProviderJwk[]): Provider => {
      const built = createProvider({
        config,
        prisma: db.prisma,
        jwks: signingKeys,
        cookieKeys,
        findClient: clientMetadataLookup(db.prisma),
        extensions: [signIn, servicesConfiguration(features), refreshTokenConfiguration(features, signIn), deviceFlowConfiguration(features)],
      });
      installServices(built, features);
      installSignIn(built, features);
      installRefreshTokenAudit(built, features);
      installDeviceFlow(built, features, deviceLimiters);
      return built;
    };
    let provider = buildProvider(jwks);
    const currentProvider = () => provider;
    const app = createApp({
      config,
      provider: currentProvider,
      logger,
      cookieKeys,
      isReady: () => isDatabaseReachable(db),
      routers: [interactionRoutes(currentProvider, features)],
    });
    const sweeper = startSweeper(() => sweepExpiredArtifacts(db.prisma), config.sweepIntervalSeconds, (err) => logger.warn({ err }, 'sweep failed'));
    const keyWatcher = watchSigningKeys({
      prisma: db.prisma,
      initialVersion: await signingKeySetVersion(db.prisma),
      intervalSeconds: config.keys.refreshIntervalSeconds,
      reload: async (version) => {
        // Requests in flight finish on the provider they started with; new ones get the new keys.
        provider = buildProvider(await loadProviderJwks(db.prisma, kek));
        logger.info({ keys: version }, 'signing keys changed: provider reloaded');
      },
      onError: (err) => logger.warn({ err }, 'signing key refresh failed'),
    });
    return { config, db, provider: currentProvider, app, background: [sweeper, keyWatcher] };
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
      for (const task of gatehouse.background) task.stop();
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
