// Request id and one JSON log line per request. Only the path is logged, never the query
// string: authorization requests and callbacks carry codes and state there.
import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../logger.js';

const INCOMING_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function requestContext(logger: Logger, trustProxy: boolean): Middleware {
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
      logger.info(
        { reqId: id, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10, ip: ctx.ip },
        'request',
      );
    }
  };
}
