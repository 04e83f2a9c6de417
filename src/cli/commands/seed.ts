// `seed FILE`: bring the database to match a declarative JSON file (see src/cli/seed.ts).
import { closeSync, existsSync, fchmodSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Command } from 'commander';
import { applySeed, SeedValidationError, validateSeed, type SeedChange } from '../seed.js';
import { leaf } from '../command.js';
import { CliError } from '../errors.js';
import { table, type Io } from '../output.js';

function readSeedFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw CliError.usage(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw CliError.usage(`${file} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Secrets go to a new file readable by its owner only; an existing file is never overwritten. */
function writeSecretsFile(file: string, secrets: Record<string, string>): void {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw CliError.failure(`--secrets-out: cannot create ${file}: ${code === 'EEXIST' ? 'it already exists (secrets are never overwritten)' : code}`);
  }
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, `${JSON.stringify(secrets, null, 2)}\n`);
  } finally {
    closeSync(fd);
  }
}

/** Creating a client, or moving it to a secret-based auth method, can produce a secret. */
function mayGenerateSecret(change: SeedChange): boolean {
  if (change.kind === 'webhook') return change.action === 'created';
  return change.kind === 'client' && (change.action === 'created' || Boolean(change.fields?.includes('token_endpoint_auth_method')));
}

function describe(change: SeedChange): string {
  return change.fields ? `${change.action} (${change.fields.join(', ')})` : change.action;
}

export function registerSeedCommand(program: Command, io: Io): void {
  const seed = leaf<{ secretsOut?: string; dryRun?: boolean }>(
    program,
    'seed <file>',
    'create or update APIs, clients, users and upstream identity providers from a JSON file; running it twice changes nothing',
    io,
  );
  seed.command
    .option('--secrets-out <file>', 'write secrets of newly created confidential clients to this new file (mode 0600) instead of printing them')
    .option('--dry-run', 'say what would change, and change nothing');
  seed.command.addHelpText('after', '\nThe file format is described in README.md (Seed file); prisma/seed.example.json is a complete example.');
  seed.handle(async (ctx, flags, [file]) => {
    const raw = readSeedFile(file!);
    let validated;
    try {
      validated = await validateSeed(ctx.prisma, raw);
    } catch (error) {
      if (error instanceof SeedValidationError) throw CliError.usage(`${file}: ${error.message}`);
      throw error;
    }
    if (flags.secretsOut && !flags.dryRun && existsSync(flags.secretsOut)) {
      // Refuse before writing anything: a secret that cannot be delivered would be lost.
      const plan = await applySeed(ctx.prisma, validated, { dryRun: true, audit: ctx.audit, keyEncryptionKey: ctx.keyEncryptionKey });
      if (plan.changes.some(mayGenerateSecret)) {
        throw CliError.failure(`--secrets-out: ${flags.secretsOut} already exists (secrets are never overwritten); nothing was changed`);
      }
    }
    const { changes, secrets, webhookSecrets } = await applySeed(ctx.prisma, validated, {
      dryRun: Boolean(flags.dryRun),
      audit: ctx.audit,
      keyEncryptionKey: ctx.keyEncryptionKey,
    });
    const changed = changes.filter((c) => c.action !== 'unchanged');
    const secretIds = Object.keys(secrets);
    const webhookUrls = Object.keys(webhookSecrets);
    // In the secrets file, a webhook's secret is keyed `webhook:<url>` beside the client_ids.
    const fileSecrets = { ...secrets, ...Object.fromEntries(webhookUrls.map((url) => [`webhook:${url}`, webhookSecrets[url]!])) };
    if (flags.secretsOut && Object.keys(fileSecrets).length) writeSecretsFile(flags.secretsOut, fileSecrets);
    const printSecrets = !flags.secretsOut && secretIds.length > 0;
    const printWebhookSecrets = !flags.secretsOut && webhookUrls.length > 0;

    const verb = flags.dryRun ? 'would change' : 'changed';
    const summary = changed.length
      ? `${verb} ${changed.length} of ${changes.length} entries`
      : `nothing to change: the database already matches ${file}`;
    const lines = [
      table(changes, [
        { header: 'KIND', value: (c) => c.kind },
        { header: 'ID', value: (c) => c.id },
        { header: 'RESULT', value: (c) => (flags.dryRun && c.action !== 'unchanged' ? `would be ${describe(c)}` : describe(c)) },
      ]),
      summary,
    ];
    if (printSecrets) lines.push('', 'client secrets (shown only now):', ...secretIds.map((id) => `  ${id}: ${secrets[id]}`));
    if (printWebhookSecrets) lines.push('', 'webhook signing secrets (shown only now):', ...webhookUrls.map((url) => `  ${url}: ${webhookSecrets[url]}`));
    if (flags.secretsOut && Object.keys(fileSecrets).length) lines.push(`${secretIds.length ? 'client' : 'webhook'} secrets written to ${flags.secretsOut}`);
    return {
      json: {
        dry_run: Boolean(flags.dryRun),
        changed: changed.length,
        changes,
        ...(printSecrets ? { client_secrets: secrets } : {}),
        ...(printWebhookSecrets ? { webhook_secrets: webhookSecrets } : {}),
        ...(flags.secretsOut && Object.keys(fileSecrets).length ? { secrets_file: flags.secretsOut } : {}),
      },
      text: lines.join('\n'),
      ...(printSecrets || printWebhookSecrets ? { notice: 'Secrets are shown only now: store them in a secret manager.' } : {}),
    };
  });
}
