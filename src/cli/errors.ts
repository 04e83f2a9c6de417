// The CLI's one error type and the exit codes it promises: 0 success, 1 runtime failure
// (unknown id, conflict, database unreachable), 2 usage or validation error.
import { UserError } from '../accounts/users.js';
import { RegistryError } from '../clients/errors.js';
import { SchemaNotReadyError } from '../db/prepare-schema.js';
import { KeyDecryptionError } from '../keys/encryption.js';
import { WebhookError } from '../webhooks/errors.js';
import { UpstreamError } from '../upstream/registry.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: typeof EXIT_FAILURE | typeof EXIT_USAGE,
  ) {
    super(message);
  }

  static usage(message: string): CliError {
    return new CliError(message, EXIT_USAGE);
  }

  static failure(message: string): CliError {
    return new CliError(message, EXIT_FAILURE);
  }
}

/** Any error, as one line for stderr and an exit code. Unknown errors never show a stack. */
export function describeError(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof RegistryError) {
    return { message: error.message, exitCode: error.code === 'invalid' ? EXIT_USAGE : EXIT_FAILURE };
  }
  if (error instanceof UpstreamError) {
    return { message: error.message, exitCode: error.code === 'invalid' ? EXIT_USAGE : EXIT_FAILURE };
  }
  if (error instanceof UserError) {
    return { message: error.message, exitCode: error.code === 'invalid' || error.code === 'weak_password' ? EXIT_USAGE : EXIT_FAILURE };
  }
  if (error instanceof WebhookError) return { message: error.message, exitCode: error.code === 'invalid' ? EXIT_USAGE : EXIT_FAILURE };
  if (error instanceof SchemaNotReadyError || error instanceof KeyDecryptionError) {
    return { message: error.message, exitCode: EXIT_FAILURE };
  }
  const text = error instanceof Error ? error.message : String(error);
  // Driver errors can span lines (and quote SQL); the first line says what went wrong.
  const firstLine = text.split('\n').find((line) => line.trim()) ?? 'unknown error';
  return { message: `unexpected error: ${firstLine.trim()}`, exitCode: EXIT_FAILURE };
}
