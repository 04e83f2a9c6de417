// Discovery and the JWKS are the same bytes for every caller until the provider is rebuilt (a
// signing-key change, src/keys/key-refresh.ts): their URLs come from ISSUER alone
// (issuer-origin.ts). So the first GET of each on a provider goes through the whole stack to
// oidc-provider, and its bytes are kept for that provider; later GETs are answered here, after
// the per-IP request count and before everything else (spelling check, body limit, routers,
// oidc-provider's own middleware). A new provider starts with nothing kept, so the first request
// after a key change serves the new key set.
//
// Validators (RFC 9110 §8.8.3): a strong ETag of the bytes, and If-None-Match answered with 304
// (§13.1.2, weak comparison, `*` included). Cache-Control is public-caching.ts's, bounded by the
// key activation delay. CORS is what oidc-provider's open CORS (lib/shared/cors.js) sends on
// these routes: the caller's Origin (or `*`), with Vary: Origin.
import { createHash } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { GatehouseConfig } from '../config.js';
import { publicCacheControl } from './public-caching.js';

type PublicDocument = { body: Buffer; type: string; etag: string };

const ROUTES = new Set(['discovery', 'jwks']);

/** Both discovery documents oidc-provider registers (lib/helpers/initialize_app.js). */
const DISCOVERY_PATHS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server'];

/** The bytes Koa would send for the body oidc-provider set (an object is JSON.stringify'd). */
function documentOf(ctx: Context): PublicDocument | undefined {
  const { body } = ctx;
  let bytes: Buffer;
  if (Buffer.isBuffer(body)) bytes = body;
  else if (typeof body === 'string') bytes = Buffer.from(body);
  else if (body !== null && typeof body === 'object' && !('pipe' in body)) bytes = Buffer.from(JSON.stringify(body));
  else return undefined;
  const type = ctx.response.get('Content-Type');
  if (!type) return undefined;
  return { body: bytes, type, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"` };
}

/** RFC 9110 §13.1.2: `*`, or any listed entity tag equal to ours under weak comparison. */
function matchesIfNoneMatch(header: string, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

function send(ctx: Context, document: PublicDocument, cacheControl: string): void {
  ctx.vary('Origin');
  ctx.set('Access-Control-Allow-Origin', ctx.get('Origin') || '*');
  ctx.set('Cache-Control', cacheControl);
  ctx.set('ETag', document.etag);
  if (matchesIfNoneMatch(ctx.get('If-None-Match'), document.etag)) {
    ctx.status = 304;
    return;
  }
  ctx.set('Content-Type', document.type);
  ctx.body = document.body;
}

export function publicDocuments(config: GatehouseConfig, currentProvider: () => Provider): Middleware {
  const cacheControl = publicCacheControl(config);
  // koa-mount compares the issuer's path as spelled (src/http/app.ts); only the canonical
  // spelling of each route is kept (the others are refused by route-spelling.ts).
  const basePath = new URL(config.issuer).pathname.replace(/\/$/, '');
  const paths = new Set([...DISCOVERY_PATHS, currentProvider().pathFor('jwks', { mountPath: '' })].map((p) => `${basePath}${p}`));
  const kept = new WeakMap<Provider, Map<string, PublicDocument>>();

  return async (ctx, next) => {
    if (ctx.method !== 'GET' || !paths.has(ctx.path)) return next() as Promise<void>;
    const provider = currentProvider();
    let documents = kept.get(provider);
    if (!documents) {
      documents = new Map<string, PublicDocument>();
      kept.set(provider, documents);
    }
    const known = documents.get(ctx.path);
    if (known) return send(ctx, known, cacheControl);

    await next();
    const route = (ctx as unknown as Partial<KoaContextWithOIDC>).oidc?.route;
    if (ctx.status !== 200 || !route || !ROUTES.has(route)) return;
    const document = documentOf(ctx);
    if (!document) return;
    documents.set(ctx.path, document);
    send(ctx, document, cacheControl);
  };
}
