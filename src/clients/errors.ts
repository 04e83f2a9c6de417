// The one error type of the client and API registry. Callers (admin CLI, seed, tests) branch on
// `code`; `problems` lists every validation failure, each naming its field.
import type { z } from 'zod';
import { formatZodIssues } from '../util/validation.js';

export type RegistryErrorCode = 'not_found' | 'invalid' | 'conflict';

export class RegistryError extends Error {
  override name = 'RegistryError';
  readonly code: RegistryErrorCode;
  readonly problems: string[];

  constructor(code: RegistryErrorCode, message: string, problems: string[] = []) {
    super(problems.length ? `${message}: ${problems.join('; ')}` : message);
    this.code = code;
    this.problems = problems;
  }

  static invalid(what: string, problems: string[]): RegistryError {
    return new RegistryError('invalid', `invalid ${what}`, problems);
  }

  static fromZod(what: string, error: z.ZodError): RegistryError {
    return RegistryError.invalid(what, formatZodIssues(error));
  }
}
