// Request id and one JSON log line per request. Only the path is logged, never the query
// string: authorization requests and callbacks carry codes and state there.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';

const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestContext(logger: Logger, trustProxy: boolean): Middleware {
  // The request line carries only the fixed fields below (the path without its query string,
  // never headers or bodies), none of which REDACTED_PATHS names, so it skips the redaction
  // pass: in the discovery benchmark's profile that pass (which walks every redacted path on
  // every line) was the largest cost of logging, about 19 µs of 21 per line.
  const requestLog = logger.child({}, { redact: [] });
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id');
    // A caller-chosen id is only believed from a trusted proxy, and only if it is tame.
    const id = trustProxy && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    ctx.state.requestId = id;
    ctx.set('X-Request-Id', id);
    const started = process.hrtime.bigint();
    try {
      await next();
    } finally {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      requestLog.info(
        { reqId: id, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10, ip: ctx.ip },
        'request',
      );
    }
  };
}
