// Crash (issue 9, item 2): the server process is killed with SIGKILL in the middle of a
// bounded load (client credentials and refresh-token rotation), and started again on the same
// database. Sessions, grants and refresh tokens issued before survive (an idle refresh token
// still refreshes, the browser's session cookie still signs the person in), the tokens that were
// in flight either work or are refused cleanly, and no row is left half-written: every token's
// grant exists, every payload is whole and agrees with its row.
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { createUser } from '../../src/accounts/users.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { basicAuth, postForm } from '../support/oauth-http.js';
import { OFFLINE_SCOPE, refresh } from '../support/refresh.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { scaled, spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { PASSWORD, TestBrowser, authorizationUrl, authorizeAndSignIn, exchangeCode, pkcePair, registerClient, type TestClient } from '../support/signin.js';
import { loops, report, sleep, viewOf } from './helpers.js';

const ORDERS = 'https://api.example.com/orders';
const KILLS = scaled(2, 10);
const LOAD_MS = scaled(1500, 5000);
const CONCURRENCY = 4;

describe('kill -9 under load, then restart on the same database', () => {
  let database: TestDatabase;
  let db: Database;
  let server: GatehouseProcess;
  let web: TestClient;
  let service: { id: string; secret: string };
  let email: string;

  beforeAll(async () => {
    database = await freshDatabase('postgresql');
    server = await spawnGatehouse({
      env: { DATABASE_URL: database.url, LOG_LEVEL: 'warn', REFRESH_TOKEN_REUSE_GRACE: '0', REQUEST_IP_LIMIT: '1000000', TOKEN_CLIENT_LIMIT: '1000000' },
    });
    db = await openDatabase(database.url);
    await createApi(db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const s = await createClient(db.prisma, { name: 'svc', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    service = { id: s.client.client_id, secret: s.clientSecret! };
    web = await registerClient(viewOf(server.url, db.prisma));
    email = `crash-${Date.now()}@example.com`;
    await createUser(db.prisma, { email, name: 'Crash', password: PASSWORD, email_verified: true });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await db?.close();
    await database?.drop();
  });

  async function codeFlow(browser: TestBrowser) {
    const view = viewOf(server.url, db.prisma);
    const { callback, verifier } = await authorizeAndSignIn(view, browser, web, email, { scope: OFFLINE_SCOPE, extra: { prompt: 'consent' } }).catch((error: Error) => {
      throw new Error(`code flow failed: ${error.message} (${String((error.cause as Error | undefined)?.message)}); server log tail:\n${server.logs.slice(-15).join('\n')}`);
    });
    const tokens = await exchangeCode(view, web, callback.code!, verifier);
    expect(tokens.status).toBe(200);
    return tokens.body.refresh_token as string;
  }

  test('what was issued survives, what was in flight is refused cleanly, no half-written rows', async () => {
    const view = viewOf(server.url, db.prisma);
    const browser = new TestBrowser(view);
    // Issued before any crash and left idle: must work after every restart.
    let idle = await codeFlow(browser);
    const figures = { kills: 0, requests: 0, cut_by_kill: 0, in_flight_refused: 0, in_flight_worked: 0 };

    for (let kill = 0; kill < KILLS; kill++) {
      const tokens = await Promise.all(Array.from({ length: CONCURRENCY }, () => codeFlow(new TestBrowser(view))));
      let killed = false;
      const load = loops(CONCURRENCY, () => killed, async (loop) => {
        try {
          const cc = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basicAuth(service.id, service.secret) });
          figures.requests += 1;
          expect(cc.status).toBe(200);
          const rotated = await refresh(view, web, tokens[loop]!);
          figures.requests += 1;
          expect(rotated.status).toBe(200);
          tokens[loop] = rotated.body.refresh_token as string;
        } catch (error) {
          // A request the kill cut off (connection reset) is expected; anything else is not.
          if (!killed) throw error;
          figures.cut_by_kill += 1;
        }
      });
      await sleep(LOAD_MS);
      killed = true;
      await server.kill9();
      figures.kills += 1;
      await load;

      await server.restart();
      // The idle refresh token issued before the crash still works.
      const idleRefresh = await refresh(view, web, idle);
      expect(idleRefresh.status).toBe(200);
      idle = idleRefresh.body.refresh_token as string;
      // The session cookie still signs the person in: straight back to the client.
      const again = await browser.get(authorizationUrl(view, { client: web, codeChallenge: pkcePair().challenge, state: `k${kill}` }));
      expect(again.kind).toBe('redirect');
      // The last token each loop held: its rotation may have committed while the answer was
      // lost, then presenting it again is reuse (invalid_grant). Either way, never a 5xx.
      for (const token of tokens) {
        const res = await refresh(view, web, token);
        if (res.status === 200) figures.in_flight_worked += 1;
        else {
          expect(res.status).toBe(400);
          expect(res.body).toMatchObject({ error: 'invalid_grant' });
          figures.in_flight_refused += 1;
        }
      }
    }

    // No half-written rows: every token's grant exists, every payload agrees with its row.
    const [grants, refreshTokens, accessTokens, codes, sessions, users] = await Promise.all([
      db.prisma.grant.findMany(),
      db.prisma.refreshToken.findMany(),
      db.prisma.accessToken.findMany(),
      db.prisma.authorizationCode.findMany(),
      db.prisma.session.findMany(),
      db.prisma.user.findMany({ select: { id: true } }),
    ]);
    const grantIds = new Set(grants.map((g) => g.id));
    const userIds = new Set(users.map((u) => u.id));
    const problems: string[] = [];
    for (const [model, rows] of [['RefreshToken', refreshTokens], ['AccessToken', accessTokens], ['AuthorizationCode', codes]] as const) {
      for (const row of rows) {
        const payload = row.payload as Record<string, unknown> | null;
        if (!payload || typeof payload !== 'object') problems.push(`${model} ${row.id}: no payload`);
        else {
          if (payload.jti !== row.id) problems.push(`${model} ${row.id}: payload jti ${String(payload.jti)}`);
          if (payload.grantId !== row.grantId) problems.push(`${model} ${row.id}: payload grant differs from the row's`);
          if (typeof payload.exp !== 'number' || !row.expiresAt) problems.push(`${model} ${row.id}: no expiry`);
        }
        if (!row.grantId || !grantIds.has(row.grantId)) problems.push(`${model} ${row.id}: grant ${row.grantId} missing`);
      }
    }
    for (const grant of grants) {
      const payload = grant.payload as Record<string, unknown>;
      if (payload.jti !== grant.id || typeof payload.accountId !== 'string' || !userIds.has(payload.accountId)) problems.push(`Grant ${grant.id}: incomplete payload`);
    }
    for (const session of sessions) {
      const payload = session.payload as Record<string, unknown>;
      if (!payload || payload.jti !== session.id) problems.push(`Session ${session.id}: incomplete payload`);
    }
    report('crash', { ...figures, grants: grants.length, refresh_tokens: refreshTokens.length, access_tokens: accessTokens.length, sessions: sessions.length, problems: problems.length });
    expect(problems).toEqual([]);
    expect(figures.in_flight_worked + figures.in_flight_refused).toBe(KILLS * CONCURRENCY);
  }, 120_000 + KILLS * 20_000);
});
