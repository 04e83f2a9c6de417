// Assembles a running Gatehouse from a configuration: database, migrations (embedded mode),
// keys, provider, app. server.ts is the process entry; tests start instances through here.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { GatehouseConfig } from './config.js';
import { openDatabase, isDatabaseReachable, type Database } from './db/client.js';
import { prepareSchema, schemaIsCurrent, SchemaNotReadyError } from './db/prepare-schema.js';
import { startSweeper, sweepExpiredRows } from './db/sweeper.js';
import { signingKeySetVersion, watchSigningKeys } from './keys/key-refresh.js';
import type { PeriodicTask } from './util/run-every.js';
import { createApp } from './http/app.js';
import { endpointsOf } from './http/endpoints.js';
import { openRateLimitStore, type RateLimitStore } from './http/rate-limit-store.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { startMetricsServer } from './metrics/server.js';
import type { ClientRateLimiters } from './oidc/client-rate-limits.js';
import { interactionRoutes } from './sign-in/routes.js';
import { loadCookieKeys } from './keys/cookie-keys.js';
import { deriveKeyEncryptionKey } from './keys/encryption.js';
import { resolveKeyEncryptionSecret } from './keys/key-encryption-secret.js';
import { ensureInitialKeys, loadProviderJwks, type ProviderJwk } from './keys/signing-keys.js';
import type { Logger } from './logger.js';
import { createProvider } from './oidc/provider.js';
import type { FeatureDependencies } from './oidc/feature.js';
import { signInConfiguration } from './sign-in/sign-in.js';
import { deviceCodeEntryLimiters } from './device/flow.js';
import { providerFeatures, type LastingFeatureState } from './features.js';
import { deviceConfirmationPage } from './device/confirmation.js';
import { clientMetadataLookup } from './clients/provider-metadata.js';
import { cachedClientLookup } from './clients/client-cache.js';
import { createAuditWriter, type AuditWriter } from './audit/audit.js';
import { backchannelLogoutRenderer } from './backchannel-logout/logout-token.js';
import { queueBackchannelLogout } from './backchannel-logout/queue.js';
import { currentKeySigner } from './keys/sign-jwt.js';
import { outboxBacklog, webhookOutbox } from './webhooks/outbox.js';
import { webhookRenderer } from './webhooks/render.js';
import { startOutboxWorker, type OutboxWorker } from './webhooks/worker.js';
import { createMailer, type Mailer } from './mail/mailer.js';
import { createPageCsrf } from './pages/page-csrf.js';
import { createPasswordHasher } from './accounts/passwords.js';
import { passwordResetRoutes } from './password-reset/routes.js';
import { emailVerificationRoutes } from './email-verification/routes.js';
import { signUpRoutes } from './sign-up/routes.js';
import { accountRoutes } from './account/routes.js';
import { upstreamSignIn } from './upstream/feature.js';
import { mfaDependencies } from './mfa/deps.js';
import { secondFactorRoutes, secondFactorSignIn } from './mfa/sign-in-step.js';
import { securityRoutes } from './mfa/security-pages.js';

export type Gatehouse = {
  config: GatehouseConfig;
  db: Database;
  /** The provider serving now; rebuilt when the signing keys change (src/keys/key-refresh.ts). */
  provider: () => Provider;
  app: Koa;
  /** Periodic tasks (sweeping, key refresh), stopped at shutdown. */
  background: PeriodicTask[];
  /** Where rate-limit counts live (memory, or Redis when REDIS_URL is set); closed at shutdown. */
  rateLimits: RateLimitStore;
  /** Prometheus registry and counters, served on METRICS_PORT by listen(). */
  metrics: Metrics;
  /** The audit writer (its rows are batched; drained at shutdown). */
  audit: AuditWriter;
  /** Sends webhooks and logout tokens from the outbox (src/webhooks); stopped at shutdown. */
  outbox: OutboxWorker;
  /** Email delivery (queued, retried off the request path); closed at shutdown. */
  mailer: Mailer;
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

export type GatehouseOptions = {
  /** Sweep expired rows here (default). A cluster's workers leave it to their primary. */
  sweep?: boolean;
  /** A worker of src/cluster.ts: without Redis, rate-limit counts live in the primary. */
  clusterWorker?: boolean;
};

/**
 * The storage work every instance needs done before serving, safe to do once for many processes:
 * schema migrations (SQLite) or the check that they were applied (PostgreSQL), the key-encryption
 * secret (generated in DATA_DIR outside production), a signing key.
 */
export async function prepareStorage(config: GatehouseConfig, db: Database, logger: Logger): Promise<void> {
  await prepareDatabaseSchema(config, db, logger);
  const { secret, generated } = resolveKeyEncryptionSecret(config.keyEncryptionSecret, config.dataDir);
  if (generated) logger.warn({ dataDir: config.dataDir }, 'generated a key-encryption secret in the data directory (embedded mode only)');
  await ensureInitialKeys(db.prisma, deriveKeyEncryptionKey(secret));
}

export function startSweeping(config: GatehouseConfig, db: Database, logger: Logger): PeriodicTask {
  return startSweeper(
    () => sweepExpiredRows(db.prisma, config.auditRetentionSeconds),
    config.sweepIntervalSeconds,
    (err) => logger.warn({ err }, 'sweep failed'),
  );
}

export async function createGatehouse(config: GatehouseConfig, logger: Logger, options: GatehouseOptions = {}): Promise<Gatehouse> {
  const db = await openDatabase(config.database.url, {
    connectTimeoutMs: config.database.connectTimeoutSeconds * 1000,
    onPoolError: (err) => logger.warn({ err }, 'database pool error'),
  });
  const metrics = createMetrics();
  let rateLimits: RateLimitStore | undefined;
  try {
    await prepareDatabaseSchema(config, db, logger);
    rateLimits = await openRateLimitStore({
      redisUrl: config.redisUrl,
      keyPrefix: config.redisKeyPrefix,
      policies: config.rateLimits,
      logger,
      onRefusal: (policy) => metrics.rateLimitRefused(policy),
      clusterWorker: options.clusterWorker,
    });
    const store = rateLimits;
    metrics.watchRateLimitStore(() => store.shared());
    const { limiterFor } = rateLimits;
    const limits = config.rateLimits;
    const requestLimiter = limiterFor('request-ip');
    const clientLimiters: ClientRateLimiters = {
      token: { limiter: limiterFor('token-client'), policy: limits['token-client'] },
      introspection: { limiter: limiterFor('introspection-client'), policy: limits['introspection-client'] },
      authFailure: { limiter: limiterFor('client-auth-failure'), policy: limits['client-auth-failure'] },
    };

    const { secret, generated } = resolveKeyEncryptionSecret(config.keyEncryptionSecret, config.dataDir);
    if (generated) logger.warn({ dataDir: config.dataDir }, 'generated a key-encryption secret in the data directory (embedded mode only)');
    const kek = deriveKeyEncryptionKey(secret);
    await ensureInitialKeys(db.prisma, kek);
    const [jwks, cookieKeys] = await Promise.all([loadProviderJwks(db.prisma, kek), loadCookieKeys(db.prisma, kek)]);

    // Each audit batch writes its webhook messages in the same transaction (src/webhooks/outbox.ts).
    const audit = createAuditWriter(db, logger, (event) => metrics.observeAudit(event), [webhookOutbox]);
    const features: FeatureDependencies = { config, prisma: db.prisma, sql: db.sql, logger, audit, limiterFor };
    const lasting: LastingFeatureState = {
      // Outlives provider rebuilds (key rotation): the cached metadata does not depend on keys.
      findClient: cachedClientLookup(clientMetadataLookup(db.prisma), config.clientCacheTtlSeconds),
      cookieKeys,
      signIn: signInConfiguration(features),
      deviceLimiters: deviceCodeEntryLimiters(features),
      clientLimiters,
    };
    // The feature list (src/features.ts) says what the provider is made of, in order.
    const buildProvider = (signingKeys: ProviderJwk[]): Provider => createProvider(config, providerFeatures(features, lasting, signingKeys));
    let signingJwks = jwks;
    let provider = buildProvider(jwks);
    const currentProvider = () => provider;
    const mailer = createMailer(config, logger, audit);
    // Self-service pages (issue 20): forms outside interactions get their own CSRF binding.
    const selfService = {
      ...features,
      mailer,
      csrf: createPageCsrf(cookieKeys),
      hasher: createPasswordHasher(),
      mailLimiters: { perIp: limiterFor('mail-ip'), perAddress: limiterFor('mail-account') },
      // OpenID Connect Back-Channel Logout 1.0 for sessions ended from the account page or by a reset.
      beforeSignOut: (accountId: string, sessionIds: string[]) => queueBackchannelLogout(db.prisma, { accountId, sessionIds }),
    };
    const selfServiceRouters = [
      ...(config.passwordReset.enabled ? [passwordResetRoutes(selfService)] : []),
      emailVerificationRoutes(selfService),
      signUpRoutes({ ...selfService, signUpLimiter: limiterFor('login-ip') }),
      accountRoutes({ ...selfService, provider: currentProvider, passwordLimiter: limiterFor('login-ip-account') }),
    ];
    // The key that signs now (first in the list) also signs private_key_jwt assertions to upstreams.
    const upstream = upstreamSignIn(features, currentProvider, { kek, cookieKeys, signingKey: () => signingJwks[0] });
    const mfa = mfaDependencies(features, currentProvider, kek, cookieKeys);
    const app = createApp({
      config,
      provider: currentProvider,
      logger,
      cookieKeys,
      isReady: () => isDatabaseReachable(db),
      // Upstream sign-in's fixed callback path comes before the interaction pages' /:uid.
      routers: [
        upstream.router,
        interactionRoutes(currentProvider, features, [deviceConfirmationPage], upstream.loginExtension, secondFactorSignIn(mfa)),
        secondFactorRoutes(mfa),
        securityRoutes(mfa),
        ...selfServiceRouters,
      ],
      endpoints: endpointsOf(provider, config.issuer),
      metrics,
      audit,
      requestLimiter,
    });
    const sweeper = options.sweep === false ? undefined : startSweeping(config, db, logger);
    // Every instance (every cluster worker too) delivers; claims keep them off each other's rows.
    const sign = currentKeySigner(db.prisma, kek);
    const outbox = startOutboxWorker({
      prisma: db.prisma,
      provider: db.provider,
      config,
      logger,
      audit,
      renderers: {
        webhook: webhookRenderer({ prisma: db.prisma, kek, issuer: config.issuer, sign }),
        'backchannel-logout': backchannelLogoutRenderer({ prisma: db.prisma, issuer: config.issuer, sign }),
      },
      observe: (kind, outcome) => metrics.deliveryAttempted(kind, outcome),
    });
    metrics.watchOutbox(() => outboxBacklog(db.prisma));
    const keyWatcher = watchSigningKeys({
      prisma: db.prisma,
      initialVersion: await signingKeySetVersion(db.prisma),
      intervalSeconds: config.keys.refreshIntervalSeconds,
      reload: async (version) => {
        // Requests in flight finish on the provider they started with; new ones get the new keys.
        signingJwks = await loadProviderJwks(db.prisma, kek);
        provider = buildProvider(signingJwks);
        logger.info({ keys: version }, 'signing keys changed: provider reloaded');
      },
      onError: (err) => logger.warn({ err }, 'signing key refresh failed'),
    });
    return { config, db, provider: currentProvider, app, background: sweeper ? [sweeper, keyWatcher] : [keyWatcher], rateLimits, metrics, audit, outbox, mailer };
  } catch (error) {
    await rateLimits?.close();
    await db.close();
    throw error;
  }
}

export type RunningGatehouse = Gatehouse & {
  server: Server;
  url: string;
  /** The port /metrics is served on (METRICS_PORT, or the one picked for METRICS_PORT=0). */
  metricsPort: number;
  stop(): Promise<void>;
};

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
  const metrics = await startMetricsServer(gatehouse.metrics.registry, config.host, config.metricsPort).catch((error: unknown) => {
    server.close();
    throw new StartupError(`cannot serve metrics on ${config.host}:${config.metricsPort}: ${(error as Error).message}`);
  });

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
      await Promise.all([closed, metrics.close()]);
      clearTimeout(timeout);
      await gatehouse.rateLimits.close();
      await gatehouse.outbox.stop();
      // Messages still waiting for a retry are given up (and audited) rather than hold the shutdown.
      gatehouse.mailer.close();
      await gatehouse.mailer.drain();
      await gatehouse.audit.drain?.();
      await gatehouse.db.close();
    })());
  return { ...gatehouse, server, url, metricsPort: metrics.port, stop };
}
