// A body refused without being read to its end leaves the rest of it on the connection: the
// refusal must close the connection, or the next request sent on it is never answered. Spoken
// over a raw socket (node:net), since fetch would hide which connection a request went on.
import { connect } from 'node:net';
import { PROVIDERS } from '../support/databases.js';
import { authorizationUrl, expectPage, formWithAction, pkcePair, registerClient, TestBrowser } from '../support/signin.js';
import { useGatehouse } from '../support/use-gatehouse.js';

/** Past this, a socket still open means the server neither answered nor closed it. */
const HANG_BOUND_MS = 10_000;

type Exchange = { received: string; ended: boolean };

/** Writes `requests` back to back on one connection and collects everything until it closes. */
function exchange(port: number, requests: Buffer[]): Promise<Exchange> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (ended: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(bound);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks).toString('latin1'), ended });
    };
    const bound = setTimeout(() => finish(false), HANG_BOUND_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    // The server may close while the rest of the body is still being written: that is the point.
    socket.on('error', () => finish(true));
    socket.on('connect', () => {
      for (const request of requests) socket.write(request);
    });
  });
}

/** `body` as chunked transfer coding (RFC 9112 §7.1), in chunks of 4 KiB, with the last chunk. */
function chunkedBody(body: string): Buffer {
  const bytes = Buffer.from(body, 'latin1');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 4096) {
    const chunk = bytes.subarray(i, i + 4096);
    parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

describe.each(PROVIDERS)('connections after a refused body on %s', (provider) => {
  const gh = useGatehouse(provider);

  test('finding 15.8: a chunked sign-in form over the form limit gets 413 with Connection: close, and the connection ends', async () => {
    const web = await registerClient(gh);
    const browser = new TestBrowser(gh);
    const page = expectPage(await browser.get(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge })));
    const login = formWithAction(page.html, '/login');
    const target = new URL(login.action, gh.config.issuer);
    const body = new URLSearchParams({ ...login.fields, email: 'a@example.com', password: 'p'.repeat(20_000) }).toString();
    const host = new URL(gh.config.issuer).host;

    const oversized = Buffer.concat([
      Buffer.from(
        `POST ${target.pathname} HTTP/1.1\r\nHost: ${host}\r\nAccept: text/html\r\n` +
          `Content-Type: application/x-www-form-urlencoded\r\nCookie: ${browser.jar.header(target)}\r\n` +
          `Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n`,
      ),
      chunkedBody(body),
    ]);
    const next = Buffer.from(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);

    const { received, ended } = await exchange(Number(new URL(gh.url).port), [oversized, next]);
    const head = received.slice(0, received.indexOf('\r\n\r\n'));
    expect(head).toMatch(/^HTTP\/1\.1 413 /);
    expect(head).toMatch(/\r\nConnection: close\r\n/i);
    expect(received).toContain('The form sent was too large');
    // The connection is closed after the 413, not left open with the next request unanswered.
    expect(ended).toBe(true);
    expect(received.match(/HTTP\/1\.1 \d{3} /g)).toHaveLength(1);
  });

  test('a chunked body over the protocol parser limit: answered, and the next request on the connection too or the connection closed', async () => {
    const host = new URL(gh.config.issuer).host;
    const oversized = Buffer.concat([
      Buffer.from(
        `POST /token HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\n` +
          `Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n`,
      ),
      chunkedBody(`grant_type=client_credentials&pad=${'x'.repeat(60 * 1024)}`),
    ]);
    const next = Buffer.from(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    const { received, ended } = await exchange(Number(new URL(gh.url).port), [oversized, next]);
    expect(received).toMatch(/^HTTP\/1\.1 400 /);
    expect(ended).toBe(true);
    const head = received.slice(0, received.indexOf('\r\n\r\n'));
    if (!/\r\nConnection: close\r\n/i.test(head)) expect(received).toMatch(/HTTP\/1\.1 200 [\s\S]*"status":"ok"/);
  });
});
