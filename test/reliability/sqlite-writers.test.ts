// Embedded SQLite with concurrent writers (issue 9, item 3): WAL mode and a busy timeout are set
// on every connection (src/db/client.ts), so two server processes on one database file, each
// serving token issuance and sign-ins in parallel, never surface SQLITE_BUSY or a 5xx to clients.
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { createUser } from '../../src/accounts/users.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { basicAuth, postForm } from '../support/oauth-http.js';
import { OFFLINE_SCOPE, refresh } from '../support/refresh.js';
import { freshDatabase, type TestDatabase } from '../support/databases.js';
import { freePort } from '../support/gatehouse.js';
import { scaled, spawnGatehouse, type GatehouseProcess } from '../support/process.js';
import { PASSWORD, TestBrowser, authorizeAndSignIn, exchangeCode, registerClient, type TestClient } from '../support/signin.js';
import { count, loops, newTally, report, statuses, viewOf } from './helpers.js';

const ORDERS = 'https://api.example.com/orders';
const LOAD_MS = scaled(10_000, 120_000);

describe('two processes writing one SQLite file', () => {
  let database: TestDatabase;
  let db: Database;
  let servers: GatehouseProcess[];
  let web: TestClient;
  let service: { id: string; secret: string };
  const emails: string[] = [];
  /** One issuer for both processes, as one deployment has. */
  let ISSUER: string;

  beforeAll(async () => {
    database = await freshDatabase('sqlite');
    const portA = await freePort();
    ISSUER = `http://127.0.0.1:${portA}`;
    const env = { DATABASE_URL: database.url, ISSUER, LOG_LEVEL: 'warn', REQUEST_IP_LIMIT: '1000000', TOKEN_CLIENT_LIMIT: '1000000' };
    // One after the other: embedded mode migrates at start, which is not the race under test.
    servers = [await spawnGatehouse({ env, port: portA })];
    servers.push(await spawnGatehouse({ env }));
    db = await openDatabase(database.url);
    await createApi(db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    const s = await createClient(db.prisma, { name: 'svc', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    service = { id: s.client.client_id, secret: s.clientSecret! };
    web = await registerClient(viewOf(servers[0]!.url, db.prisma));
    for (let i = 0; i < 4; i++) {
      emails.push(`sqlite-${i}-${Date.now()}@example.com`);
      await createUser(db.prisma, { email: emails[i]!, name: `W ${i}`, password: PASSWORD, email_verified: true });
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await db?.close();
  });

  test('WAL and a busy timeout are in force', async () => {
    const [mode] = await db.prisma.$queryRawUnsafe<{ journal_mode: string }[]>('PRAGMA journal_mode');
    expect(mode?.journal_mode).toBe('wal');
    const [busy] = await db.prisma.$queryRawUnsafe<{ timeout: number | bigint }[]>('PRAGMA busy_timeout');
    expect(Number(busy?.timeout)).toBeGreaterThanOrEqual(5000);
  });

  test('parallel token issuance, sign-ins and refreshes at both processes: no SQLITE_BUSY, no 5xx', async () => {
    const tally = newTally();
    const deadline = Date.now() + LOAD_MS;
    await loops(8, () => Date.now() > deadline, async (loop) => {
      const server = servers[loop % 2]!;
      const view = viewOf(ISSUER, db.prisma);
      if (loop < 4) {
        const cc = await postForm(`${server.url}/token`, { grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basicAuth(service.id, service.secret) });
        count(tally, cc.status);
        if (cc.status !== 200) tally.failures.push(`client_credentials ${cc.status} ${JSON.stringify(cc.body)}`);
        return;
      }
      // A person signs in (session, interaction, grant, code rows), exchanges and refreshes.
      const browser = new TestBrowser(view, {}, server.url);
      const { callback, verifier } = await authorizeAndSignIn(view, browser, web, emails[loop - 4]!, { scope: OFFLINE_SCOPE, extra: { prompt: 'consent' } });
      for (const hop of browser.hops) count(tally, hop.status);
      if (!callback.code) {
        tally.failures.push(`sign-in: ${callback.error}`);
        return;
      }
      // The code is redeemed at the other process.
      const other = viewOf(servers[(loop + 1) % 2]!.url, db.prisma);
      const tokens = await exchangeCode(other, web, callback.code, verifier);
      count(tally, tokens.status);
      if (tokens.status !== 200) return void tally.failures.push(`exchange ${tokens.status} ${JSON.stringify(tokens.body)}`);
      const rotated = await refresh(view, web, tokens.body.refresh_token as string);
      count(tally, rotated.status);
      if (rotated.status !== 200) tally.failures.push(`refresh ${rotated.status} ${JSON.stringify(rotated.body)}`);
    });
    const busy = servers.flatMap((s) => s.logs).filter((line) => /SQLITE_BUSY|database is locked/i.test(line));
    report('sqlite-writers', { processes: 2, requests: tally.requests, statuses: statuses(tally), errors: tally.failures.length, sqlite_busy_log_lines: busy.length });
    expect(tally.failures.slice(0, 5)).toEqual([]);
    expect(busy).toEqual([]);
    expect([...tally.byStatus.keys()].filter((s) => s >= 500)).toEqual([]);
  }, 60_000 + LOAD_MS);
});
