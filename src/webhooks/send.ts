// One outgoing POST, bounded: the whole attempt (name resolution, connection, TLS, answer) within
// `timeoutMs`, at most MAX_RESPONSE_BYTES of the answer read, redirects never followed (a 3xx is
// a failed attempt), and only addresses targets.ts allows connected to.
import http from 'node:http';
import https from 'node:https';
import type { WebhookTargetKind } from '../config.js';
import { checkLiteralTarget, checkedLookup, TargetRefusedError } from './targets.js';

/** Of an answer only this much is read; its body is never used beyond a short excerpt. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export type SendResult = { ok: true; status: number } | { ok: false; status: number | null; error: string; refused?: boolean };

export type OutgoingRequest = { url: string; headers: Record<string, string>; body: string };

export function sendRequest(request: OutgoingRequest, options: { timeoutMs: number; allowTargets: readonly WebhookTargetKind[] }): Promise<SendResult> {
  let url: URL;
  try {
    url = new URL(request.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TargetRefusedError('the URL must be http or https');
    checkLiteralTarget(url, options.allowTargets);
  } catch (error) {
    return Promise.resolve({ ok: false, status: null, error: (error as Error).message, refused: error instanceof TargetRefusedError });
  }
  const body = Buffer.from(request.body);
  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: SendResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      headers: { ...request.headers, 'content-length': String(body.length), 'user-agent': 'Gatehouse-Webhooks' },
      lookup: checkedLookup(options.allowTargets),
      // A fresh connection each time: a pooled socket could have been opened to an address
      // checked under an older configuration.
      agent: false,
    });
    const timer = setTimeout(() => finish({ ok: false, status: null, error: `no answer within ${options.timeoutMs} ms` }), options.timeoutMs);
    req.on('error', (error) => finish({ ok: false, status: null, error: error.message, refused: error instanceof TargetRefusedError }));
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      let read = 0;
      res.on('data', (chunk: Buffer) => {
        read += chunk.length;
        // Enough is known from the status line; a receiver streaming without end is cut here.
        if (read > MAX_RESPONSE_BYTES) finish(outcome(status));
      });
      res.on('end', () => finish(outcome(status)));
      res.on('error', () => finish(outcome(status)));
    });
    req.end(body);
  });
}

/** 2xx is delivered; anything else (3xx included: no redirect is followed) is a failed attempt. */
function outcome(status: number): SendResult {
  return status >= 200 && status < 300 ? { ok: true, status } : { ok: false, status, error: `answered ${status}` };
}
