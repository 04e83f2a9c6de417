// The one error type of webhook endpoint management. The CLI maps `invalid` to exit 2 and the
// others to exit 1 (src/cli/errors.ts).
import type { z } from 'zod';
import { formatZodIssues } from '../util/validation.js';

export type WebhookErrorCode = 'not_found' | 'invalid';

export class WebhookError extends Error {
  override name = 'WebhookError';

  constructor(
    readonly code: WebhookErrorCode,
    message: string,
  ) {
    super(message);
  }

  static fromZod(what: string, error: z.ZodError): WebhookError {
    return new WebhookError('invalid', `invalid ${what}: ${formatZodIssues(error).join('; ')}`);
  }
}
