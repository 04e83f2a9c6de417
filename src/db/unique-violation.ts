// Whether a write failed on a unique constraint: the one signal our conditional inserts and
// "already exists" answers rely on, read the same way for both driver adapters.

/** Prisma's P2002, or the driver adapter's unique-constraint kind underneath it. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } } } | null;
  return e?.code === 'P2002' || e?.meta?.driverAdapterError?.cause?.kind === 'UniqueConstraintViolation';
}
