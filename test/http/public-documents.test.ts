// Discovery and the JWKS are served from bytes kept per provider (src/http/public-documents.ts):
// byte for byte what oidc-provider itself serves, with a strong ETag and 304 on If-None-Match,
// still counted by the per-IP limit, and new bytes once a key change rebuilds the provider.
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Provider from 'oidc-provider';
import { rotateSigningKey } from '../../src/keys/rotation.js';
import { deriveKeyEncryptionKey } from '../../src/keys/encryption.js';
import { PROVIDERS } from '../support/databases.js';
import { eventually } from '../support/eventually.js';
import { TEST_KEY_ENCRYPTION_SECRET } from '../support/key-secret.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const DOCUMENTS = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks'];

type Raw = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };

/** A GET with exactly these headers (Host included), the body as bytes. */
function get(port: number, path: string, headers: Record<string, string>): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The current provider on a server of its own: no Gatehouse middleware in front of it. */
async function bareProviderOf(handle: ReturnType<Provider['callback']>): Promise<Server> {
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** The headers oidc-provider decides on these routes (ours, such as X-Request-Id, left out). */
const providerHeaders = (r: Raw) => ({
  'content-type': r.headers['content-type'],
  'access-control-allow-origin': r.headers['access-control-allow-origin'],
  vary: r.headers.vary,
});

describe.each(PROVIDERS)('discovery and JWKS from kept bytes on %s', (provider) => {
  const gh = useGatehouse(provider, { KEY_REFRESH_INTERVAL: '1s', KEY_ACTIVATION_DELAY: '1h' });
  const port = () => Number(new URL(gh.url).port);
  const host = () => new URL(gh.config.issuer).host;
  const bareProvider = () => bareProviderOf(gh.provider().callback());

  test('each document is byte for byte what oidc-provider serves, with its content type and CORS, on the first request and later ones', async () => {
    // oidc-provider on its own (no Gatehouse middleware), asked with the issuer's Host so its
    // URLs are the issuer's.
    const bare = await bareProvider();
    try {
      const barePort = (bare.address() as AddressInfo).port;
      for (const path of DOCUMENTS) {
        const variants: Record<string, string>[] = [{ host: host() }, { host: host(), origin: 'https://app.example' }];
        for (const headers of variants) {
          const expected = await get(barePort, path, headers);
          expect([path, expected.status]).toEqual([path, 200]);
          for (let i = 0; i < 3; i++) {
            const served = await get(port(), path, headers);
            expect([path, served.status]).toEqual([path, 200]);
            expect([path, served.body.toString('utf8')]).toEqual([path, expected.body.toString('utf8')]);
            expect(served.body.equals(expected.body)).toBe(true);
            expect(providerHeaders(served)).toEqual(providerHeaders(expected));
            expect(served.headers['content-length']).toBe(String(expected.body.length));
          }
        }
      }
    } finally {
      await new Promise<void>((resolve) => bare.close(() => resolve()));
    }
  });

  test('a strong ETag; If-None-Match with it (alone, weak, in a list, or *) gets 304 without a body; another tag gets the document', async () => {
    for (const path of DOCUMENTS) {
      const first = await get(port(), path, { host: host() });
      const etag = first.headers.etag as string;
      expect([path, etag]).toEqual([path, expect.stringMatching(/^"[A-Za-z0-9_-]{16,}"$/)]);
      for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const again = await get(port(), path, { host: host(), 'if-none-match': ifNoneMatch });
        expect([path, ifNoneMatch, again.status, again.body.length]).toEqual([path, ifNoneMatch, 304, 0]);
        expect(again.headers.etag).toBe(etag);
        expect(again.headers['cache-control']).toBe(first.headers['cache-control']);
      }
      const other = await get(port(), path, { host: host(), 'if-none-match': '"not-this-one"' });
      expect([path, other.status]).toEqual([path, 200]);
      expect(other.body.equals(first.body)).toBe(true);
      expect(other.headers.etag).toBe(etag);
    }
  });

  test('kept documents still count against the per-address request limit', async () => {
    const first = await get(port(), '/jwks', { host: host() });
    const second = await get(port(), '/jwks', { host: host() });
    expect(Number(second.headers['ratelimit-remaining'])).toBe(Number(first.headers['ratelimit-remaining']) - 1);
  });

  test('after a key rotation the JWKS (and its ETag) is the new key set; the old ETag no longer gets 304', async () => {
    const before = await get(port(), '/jwks', { host: host() });
    const oldEtag = before.headers.etag as string;
    const { kid } = await rotateSigningKey(gh.db.prisma, deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET), 3600);
    // Published by the running server within KEY_REFRESH_INTERVAL (1 s here).
    const after = await eventually(10, async () => {
      const res = await get(port(), '/jwks', { host: host(), 'if-none-match': oldEtag });
      return res.status === 200 ? res : undefined;
    });
    const kids = (JSON.parse(after.body.toString('utf8')) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    expect(kids).toContain(kid);
    expect(after.headers.etag).not.toBe(oldEtag);
    // And it is what the rebuilt provider itself serves.
    const bare = await bareProvider();
    try {
      const expected = await get((bare.address() as AddressInfo).port, '/jwks', { host: host() });
      expect(after.body.equals(expected.body)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => bare.close(() => resolve()));
    }
    const revalidated = await get(port(), '/jwks', { host: host(), 'if-none-match': after.headers.etag as string });
    expect(revalidated.status).toBe(304);
  });
});
