// One place that decides whether an error means "the database cannot be reached right now"
// (PostgreSQL down, restarting, refusing connections, a connection cut mid-query, the pool unable
// to connect within DATABASE_CONNECT_TIMEOUT; SQLite locked past its busy timeout). Such errors
// are transient: callers answer 503 with Retry-After instead of a 500 (RFC 6749 §4.1.2.1 and
// §5.2 name `temporarily_unavailable` for exactly this), and the same request succeeds once the
// database is back — nothing is restarted, the pool reconnects on the next query.

/** Seconds a client is asked to wait (Retry-After, RFC 9110 §10.2.3) while the database is away. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** Prisma's error codes for an unreachable server, a lost connection, and a pool that timed out. */
const PRISMA_UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1011', 'P1017', 'P2024']);

/** Driver-adapter error kinds (@prisma/driver-adapter-utils) that mean the connection, not the query, failed. */
const ADAPTER_UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

/** Socket errors of node's net module under the pg driver. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * PostgreSQL SQLSTATEs: class 08 (connection exception), 57P01-57P03 (admin/crash shutdown,
 * cannot connect now: the server is starting or stopping), 53300 (too many connections).
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300';
}

/** Messages of pg and pg-pool that carry no code, and SQLite's lock errors. */
const UNAVAILABLE_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Can't reach database server/i,
  /Client has encountered a connection error/i,
  /terminating connection due to administrator command/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /Connection (ended|closed) unexpectedly/i,
  /SQLITE_BUSY|database is locked/,
];

type Inspectable = {
  code?: unknown;
  kind?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: unknown; code?: unknown };
};

/** True when `error` (or anything it wraps) says the database is unreachable right now. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length) {
    const current = pending.pop();
    if (!current || typeof current !== 'object' || seen.has(current)) continue;
    seen.add(current);
    const e = current as Inspectable;
    if (typeof e.code === 'string') {
      if (PRISMA_UNAVAILABLE_CODES.has(e.code) || SOCKET_CODES.has(e.code) || /^SQLITE_BUSY/.test(e.code)) return true;
      if (/^[0-9A-Z]{5}$/.test(e.code) && isUnavailableSqlState(e.code)) return true;
    }
    if (typeof e.kind === 'string') {
      if (ADAPTER_UNAVAILABLE_KINDS.has(e.kind)) return true;
      if (e.kind === 'postgres' && typeof e.code === 'string' && isUnavailableSqlState(e.code)) return true;
    }
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(e.message as string))) return true;
    pending.push(e.cause, e.meta?.driverAdapterError);
    if (current instanceof AggregateError) pending.push(...(current.errors as unknown[]));
  }
  return false;
}

/** The OAuth error body for protocol endpoints while the database is away (RFC 6749 §5.2). */
export const TEMPORARILY_UNAVAILABLE = {
  error: 'temporarily_unavailable',
  error_description: `the service is temporarily unavailable; retry after ${DATABASE_RETRY_AFTER_SECONDS} seconds`,
} as const;
