// Reading back the JSON columns of the registry tables. They were validated when written, but a
// database is still a boundary: a row edited by hand must fail loudly, not flow on as `any`.
import { z } from 'zod';
import type { ClientJwks } from './metadata.js';

const stringArray = z.array(z.string());
const jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });

class StoredDataError extends Error {
  override name = 'StoredDataError';
}

function read<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new StoredDataError(`stored ${where} is malformed`);
  return parsed.data;
}

export function storedStrings(value: unknown, where: string): string[] {
  return read(stringArray, value, where);
}

export function storedJwks(value: unknown, where: string): ClientJwks | null {
  return value === null || value === undefined ? null : read(jwks, value, where);
}
