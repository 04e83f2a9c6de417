// A real HTTP receiver for outgoing webhooks and back-channel logout tokens, started by the test
// on a loopback port. Every request with Standard Webhooks headers is verified with the
// `standardwebhooks` package against the secrets the test gives it, exactly as a receiver in
// production would; requests that do not verify are kept apart so the test can require none.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

type ReceivedRequest = { path: string; headers: IncomingHttpHeaders; body: string };
type VerifiedMessage = ReceivedRequest & { id: string; payload: unknown };

/** What the receiver does with a request: answer with a status, or hold it open and never answer. */
type Answer = number | 'hang';

export type WebhookReceiver = {
  url: string;
  /** Every request, in arrival order. */
  requests: ReceivedRequest[];
  /** Requests whose signature verified with one of the secrets. */
  verified: VerifiedMessage[];
  /** Requests carrying webhook headers that did not verify (a test expects none). */
  unverified: (ReceivedRequest & { error: string })[];
  /** Secrets to verify with (set once the endpoint is created). */
  secrets: string[];
  /** Decides the answer to each request (default 204). */
  answer: (request: ReceivedRequest) => Answer;
  /** Answers every request held open so far with `status`. */
  release(status: number): void;
  close(): Promise<void>;
};

export async function startReceiver(): Promise<WebhookReceiver> {
  const held: ServerResponse[] = [];
  const receiver: WebhookReceiver = {
    url: '',
    requests: [],
    verified: [],
    unverified: [],
    secrets: [],
    answer: () => 204,
    release(status) {
      for (const res of held.splice(0)) res.writeHead(status).end();
    },
    close: async () => {
      receiver.release(503);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      receiver.requests.push(request);
      if (req.headers['webhook-id'] !== undefined) {
        let error = 'no secret to verify with';
        let payload: unknown;
        const ok = receiver.secrets.some((secret) => {
          try {
            payload = new Webhook(secret).verify(request.body, req.headers as Record<string, string>, { jsonParse: false });
            return true;
          } catch (e) {
            error = (e as Error).message;
            return false;
          }
        });
        if (ok) receiver.verified.push({ ...request, id: String(req.headers['webhook-id']), payload: request.headers['content-type'] === 'application/json' ? JSON.parse(request.body) : payload });
        else receiver.unverified.push({ ...request, error });
      }
      const answer = receiver.answer(request);
      if (answer === 'hang') held.push(res);
      else res.writeHead(answer).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
