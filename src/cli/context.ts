// What a CLI command works with: validated configuration, an open database (schema ready),
// the audit writer and, for key commands, the key-encryption key. Opened only by commands
// that need it, so `--help` and usage errors never touch the database.
import { userInfo } from 'node:os';
import { createAuditWriter, type AuditEvent, type AuditWriter } from '../audit/audit.js';
import { parseConfig, readEnvironment, type GatehouseConfig } from '../config.js';
import { openDatabase, type Database, type Db } from '../db/client.js';
import { prepareSchema, schemaIsCurrent } from '../db/prepare-schema.js';
import { deriveKeyEncryptionKey, type KeyEncryptionKey } from '../keys/encryption.js';
import { resolveKeyEncryptionSecret } from '../keys/key-encryption-secret.js';
import { createLogger } from '../logger.js';
import { webhookOutbox } from '../webhooks/outbox.js';
import { CliError } from './errors.js';

export type CliContext = {
  config: GatehouseConfig;
  prisma: Db;
  /** Records an administrative action, naming the operating-system user who ran it. */
  audit: (event: AuditEvent) => Promise<void>;
  keyEncryptionKey: () => KeyEncryptionKey;
};

function loadCliConfig(): GatehouseConfig {
  const result = parseConfig(readEnvironment());
  if (!result.ok) throw CliError.usage(`invalid configuration: ${result.problems.join('; ')}`);
  return result.config;
}

function operator(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Opens everything a command needs, runs it, and closes the database whatever happens. */
export async function withCliContext<T>(run: (ctx: CliContext) => Promise<T>): Promise<T> {
  const config = loadCliConfig();
  // Log lines (audit copies, driver warnings) go to stderr, never into a command's output.
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr);
  let db: Database;
  try {
    db = await openDatabase(config.database.url, { poolSize: 2, connectTimeoutMs: config.database.connectTimeoutSeconds * 1000 });
  } catch (error) {
    throw CliError.failure(`cannot open the database: ${(error as Error).message.split('\n')[0]}`);
  }
  try {
    if (!(await schemaIsCurrent(db))) await prepareSchema(config.database.url);
  } catch (error) {
    await db.close();
    throw error;
  }
  // Administrative events reach webhook endpoints too, through the same outbox.
  const writer: AuditWriter = createAuditWriter(db, logger, undefined, [webhookOutbox]);
  const actor = `cli:${operator()}`;
  const ctx: CliContext = {
    config,
    prisma: db.prisma,
    audit: (event) => writer({ ...event, details: { actor, ...event.details } }),
    keyEncryptionKey: () => deriveKeyEncryptionKey(resolveKeyEncryptionSecret(config.keyEncryptionSecret, config.dataDir).secret),
  };
  try {
    return await run(ctx);
  } finally {
    await db.close();
  }
}
