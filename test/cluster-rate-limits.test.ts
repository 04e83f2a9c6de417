// Rate limits in cluster mode without REDIS_URL: the workers spend from one count kept by the
// primary (src/http/rate-limit-store.ts), so a limit means what it says and RateLimit-* tell it.
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { spawnCluster } from './support/cluster.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One GET on a connection of its own: the primary hands each new connection to the next worker. */
function getOnNewConnection(url: string): Promise<{ status: number; limit?: string; remaining?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, limit: res.headers['ratelimit-limit'] as string | undefined, remaining: res.headers['ratelimit-remaining'] as string | undefined }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

const LIMIT = 8;

describe('cluster mode (WEB_CONCURRENCY=2) without REDIS_URL', () => {
  let primary: ChildProcess;
  let issuer: string;
  let output: () => string;

  beforeAll(async () => {
    const { REDIS_URL: _ignored, ...env } = process.env;
    ({ primary, issuer, output } = await spawnCluster('cluster-rl', env, { REQUEST_IP_LIMIT: String(LIMIT), REQUEST_IP_WINDOW: '1h' }));
    for (let i = 0; i < 300 && (output().match(/is ready; discovery at/g) ?? []).length < 2; i++) await sleep(200);
    if ((output().match(/is ready; discovery at/g) ?? []).length < 2) throw new Error(`workers not ready:\n${output()}`);
  });
  afterAll(async () => {
    if (!primary?.pid || primary.exitCode !== null) return;
    const exited = new Promise((resolve) => primary.once('exit', resolve));
    primary.kill('SIGTERM');
    await exited;
  });

  test('finding 24.4: the per-address limit is spent from one count across workers, and the headers tell the truth', async () => {
    const answers = [];
    // Sequential, each on a new connection: round-robin gives every worker its share.
    for (let i = 0; i < LIMIT * 3; i++) answers.push(await getOnNewConnection(`${issuer}/jwks`));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(LIMIT);
    expect(answers.slice(LIMIT).every((a) => a.status === 429)).toBe(true);
    expect(answers.every((a) => a.limit === String(LIMIT))).toBe(true);
    // One count: each remaining value is seen once, in order.
    expect(answers.slice(0, LIMIT).map((a) => Number(a.remaining))).toEqual(Array.from({ length: LIMIT }, (_, i) => LIMIT - 1 - i));
  });
});
