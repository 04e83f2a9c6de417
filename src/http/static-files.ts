// Our stylesheet (and nothing else) under /static: read once at start, served with a
// content hash as ETag. No directory listing, no path from the request touches the disk.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Middleware } from 'koa';
import { VIEWS_DIR } from '../pages/render.js';

const FILES: Record<string, string> = {
  '/static/gatehouse.css': 'text/css; charset=utf-8',
  '/static/favicon.svg': 'image/svg+xml',
};

export function staticFiles(): Middleware {
  const served = new Map(
    Object.entries(FILES).map(([urlPath, type]) => {
      const body = readFileSync(path.join(VIEWS_DIR, urlPath));
      return [urlPath, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` }];
    }),
  );
  return async (ctx, next) => {
    const file = ctx.method === 'GET' || ctx.method === 'HEAD' ? served.get(ctx.path) : undefined;
    if (!file) return next() as Promise<void>;
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.set('ETag', file.etag);
    if (ctx.get('if-none-match') === file.etag) {
      ctx.status = 304;
      return;
    }
    ctx.type = file.type;
    ctx.body = file.body;
  };
}
