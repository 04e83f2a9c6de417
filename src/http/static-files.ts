// Our stylesheet, icon and scripts (and nothing else) under /static: read once at start, served
// with a content hash as ETag. No directory listing, no path from the request touches the disk.
// The passkey pages' browser library is served from its installed package, as it was published.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Middleware } from 'koa';
import { VIEWS_DIR } from '../pages/render.js';

const PROJECT_DIR = path.resolve(VIEWS_DIR, '..');

/** URL path -> media type and file (relative to the project). */
const FILES: Record<string, { type: string; file: string }> = {
  '/static/gatehouse.css': { type: 'text/css; charset=utf-8', file: 'views/static/gatehouse.css' },
  '/static/favicon.svg': { type: 'image/svg+xml', file: 'views/static/favicon.svg' },
  '/static/passkeys.js': { type: 'text/javascript; charset=utf-8', file: 'views/static/passkeys.js' },
  '/static/simplewebauthn-browser.js': {
    type: 'text/javascript; charset=utf-8',
    file: 'node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js',
  },
};

export function staticFiles(): Middleware {
  const served = new Map(
    Object.entries(FILES).map(([urlPath, { type, file }]) => {
      const body = readFileSync(path.join(PROJECT_DIR, file));
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
