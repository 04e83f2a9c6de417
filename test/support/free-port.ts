// A TCP port free on loopback right now, for servers that must know their URL before they listen
// (the issuer is configured up front). Shared by the test support and the benchmark harness.
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
