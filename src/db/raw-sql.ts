// Encodings for the few statements that bypass Prisma's model API (for speed: audit inserts,
// artifact look-ups by id). They must read and write exactly what Prisma itself would, so the
// provider differences live here, once.
import { z } from 'zod';
import type { DbKind } from './migrations/paths.js';

/** The n-th (1-based) bind parameter: `$n` on PostgreSQL, `?` (positional) on SQLite. */
export function parameter(provider: DbKind, n: number): string {
  return provider === 'postgresql' ? `$${n}` : '?';
}

/**
 * A DateTime column value as Prisma stores it: TIMESTAMP(3) without time zone holding UTC on
 * PostgreSQL (bind with `::timestamp(3)`), ISO 8601 text with an explicit UTC offset on SQLite
 * (so that text comparison orders it correctly against stored values).
 */
export function timestampValue(provider: DbKind, at: Date): string {
  const iso = at.toISOString();
  return provider === 'postgresql' ? iso.replace('T', ' ').replace('Z', '') : iso.replace('Z', '+00:00');
}

/** A DateTime bind parameter in the column's own type. */
export function timestampParameter(provider: DbKind, n: number): string {
  return provider === 'postgresql' ? `$${n}::timestamp(3)` : '?';
}

/** A Json bind parameter (the value passed as JSON text). */
export function jsonParameter(provider: DbKind, n: number): string {
  return provider === 'postgresql' ? `$${n}::jsonb` : '?';
}

/** A boolean or EXISTS read back: SQLite answers 0/1, PostgreSQL true/false. */
export const sqlBoolean = z.union([z.boolean(), z.number(), z.bigint()]).transform((value) => Boolean(Number(value)));
