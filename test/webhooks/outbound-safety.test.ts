// Server-side request forgery and bounded requests: loopback, private and link-local targets are
// refused unless WEBHOOK_ALLOW_TARGETS allows their kind (by IP literal and by a name resolving
// to one), redirects are not followed, an answer is read only so far and waited for only so long.
// Real servers on loopback stand in for the targets.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deriveKeyEncryptionKey } from '../../src/keys/encryption.js';
import { createWebhookEndpoint, queueTestMessage } from '../../src/webhooks/endpoints.js';
import { sendRequest } from '../../src/webhooks/send.js';
import { refusalOf } from '../../src/webhooks/targets.js';
import { PROVIDERS } from '../support/databases.js';
import { eventually } from '../support/eventually.js';
import { TEST_KEY_ENCRYPTION_SECRET } from '../support/gatehouse.js';
import { useGatehouse } from '../support/use-gatehouse.js';
import { startReceiver } from '../support/webhook-receiver.js';

const kek = deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET);

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    hits += 1;
    handler!(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits };
}

const close = (server: Server) => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
};

describe('which addresses a webhook may reach', () => {
  test.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd12:3456::1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
  ] as const)('%s is a %s address: refused by default, reachable only when that kind is allowed', (address, kind) => {
    expect(refusalOf(address, [])).toContain(`${kind} address`);
    expect(refusalOf(address, [kind])).toBeNull();
    const others = (['loopback', 'private', 'link-local'] as const).filter((k) => k !== kind);
    expect(refusalOf(address, others)).toContain(kind);
  });

  test.each(['0.0.0.0', '::', '224.0.0.1', '255.255.255.255', 'ff02::1', '::ffff:0.0.0.0'])('%s is never a destination', (address) => {
    expect(refusalOf(address, ['loopback', 'private', 'link-local'])).toMatch(/not a routable destination/);
  });

  test.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111'])('%s (public) may be reached', (address) => {
    expect(refusalOf(address, [])).toBeNull();
  });
});

describe('sending', () => {
  const options = { timeoutMs: 1500, allowTargets: ['loopback'] as ('loopback' | 'private' | 'link-local')[] };
  const request = (url: string) => ({ url, headers: { 'content-type': 'application/json' }, body: '{}' });

  test('a loopback target is refused without loopback allowed, by IP literal and by a name resolving to it, and never contacted', async () => {
    const target = await serve((_req, res) => res.writeHead(204).end());
    try {
      const literal = await sendRequest(request(`${target.url}/hook`), { ...options, allowTargets: [] });
      expect(literal).toMatchObject({ ok: false, refused: true });
      const port = new URL(target.url).port;
      const named = await sendRequest(request(`http://localhost:${port}/hook`), { ...options, allowTargets: [] });
      expect(named).toMatchObject({ ok: false, refused: true });
      if (!named.ok) expect(named.error).toMatch(/loopback/);
      expect(target.hits()).toBe(0);
      // Allowed, the same target is reached.
      expect(await sendRequest(request(`http://localhost:${port}/hook`), options)).toEqual({ ok: true, status: 204 });
      expect(target.hits()).toBe(1);
    } finally {
      await close(target.server);
    }
  });

  test('a redirect is not followed: a failed attempt, and the redirect target hears nothing', async () => {
    const elsewhere = await serve((_req, res) => res.writeHead(204).end());
    const redirecting = await serve((_req, res) => res.writeHead(307, { location: `${elsewhere.url}/stolen` }).end());
    try {
      expect(await sendRequest(request(`${redirecting.url}/hook`), options)).toMatchObject({ ok: false, status: 307 });
      expect(elsewhere.hits()).toBe(0);
    } finally {
      await close(elsewhere.server);
      await close(redirecting.server);
    }
  });

  test('an answer that never ends is cut after the bounded size; a receiver that never answers is given up at the timeout', async () => {
    const chunk = Buffer.alloc(16 * 1024, 'x');
    const endless = await serve((_req, res) => {
      res.writeHead(200);
      const pump = () => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      pump();
    });
    const silent = await serve(() => undefined);
    try {
      expect(await sendRequest(request(endless.url), { ...options, timeoutMs: 30_000 })).toEqual({ ok: true, status: 200 });
      const result = await sendRequest(request(silent.url), options);
      expect(result).toMatchObject({ ok: false, status: null });
      if (!result.ok) expect(result.error).toMatch(/no answer within 1500 ms/);
    } finally {
      await close(endless.server);
      await close(silent.server);
    }
  });
});

describe.each(PROVIDERS)('a Gatehouse that allows no private targets on %s', (provider) => {
  const gh = useGatehouse(provider, { WEBHOOK_TIMEOUT: '2' });

  test('never delivers to a loopback endpoint: the message fails as refused, the receiver hears nothing', async () => {
    const receiver = await startReceiver();
    try {
      const { endpoint } = await createWebhookEndpoint(gh.db.prisma, kek, { url: `${receiver.url}/hook`, events: ['*'] });
      const id = await queueTestMessage(gh.db.prisma, endpoint.id);
      const row = await eventually(20, async () => {
        const found = await gh.db.prisma.webhookDelivery.findUnique({ where: { id } });
        return found?.status === 'failed' ? found : undefined;
      });
      expect(row.lastError).toMatch(/loopback address/);
      expect(receiver.requests).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});
