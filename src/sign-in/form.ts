// Reading an HTML form post (application/x-www-form-urlencoded): the body is size-limited
// before it is parsed, every field may appear once, and the fields are validated with a zod
// schema that refuses unknown ones (nothing the handler did not expect reaches it).
import type { Context } from 'koa';
import type { z } from 'zod';
import { FORM_UNREADABLE_PAGE, sendErrorPage } from '../pages/pages.js';

/** Ample for our forms (an email, a password of 128 characters, a token) even fully escaped. */
const FORM_BODY_LIMIT_BYTES = 8 * 1024;

export type FormProblem = 'unsupported_media_type' | 'too_large' | 'malformed' | 'invalid';

export class FormError extends Error {
  override name = 'FormError';
  constructor(
    readonly problem: FormProblem,
    readonly status: number,
  ) {
    super(`form ${problem.replace(/_/g, ' ')}`);
  }
}

/**
 * The rest of a refused body is never read, so it is still on the connection, and the next
 * request there would never be answered: the answer closes the connection, as src/http/body-limit.ts does.
 */
function tooLarge(ctx: Context): FormError {
  ctx.set('Connection', 'close');
  return new FormError('too_large', 413);
}

async function readBody(ctx: Context, limit: number): Promise<string> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw tooLarge(ctx);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Stop reading as soon as the limit is passed: the rest is never buffered.
    if (size > limit) throw tooLarge(ctx);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses and validates the posted form; throws FormError with the HTTP status to answer. */
export async function readForm<S extends z.ZodType>(ctx: Context, schema: S, limit = FORM_BODY_LIMIT_BYTES): Promise<z.output<S>> {
  if (!ctx.request.is('application/x-www-form-urlencoded')) throw new FormError('unsupported_media_type', 415);
  const text = await readBody(ctx, limit);
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    // A repeated field is ambiguous (which one is meant?), so it is refused, not guessed.
    if (Object.hasOwn(fields, name)) throw new FormError('malformed', 400);
    fields[name] = value;
  }
  const parsed = schema.safeParse(fields);
  if (!parsed.success) throw new FormError('invalid', 400);
  return parsed.data;
}

/** For routers outside sign-in: a form that cannot be read gets the friendly page with its status (413, 415, 400). */
export async function friendlyFormErrors(ctx: Context, next: () => Promise<unknown>): Promise<void> {
  try {
    await next();
  } catch (error) {
    if (error instanceof FormError) return sendErrorPage(ctx, { ...FORM_UNREADABLE_PAGE, status: error.status });
    throw error;
  }
}
