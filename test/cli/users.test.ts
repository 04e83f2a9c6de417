// `gatehouse user ...` as a subprocess: passwords from stdin, errors, sessions and revocation.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { authorizationUrl, authorizeAndSignIn, exchangeCode, expectPage, PASSWORD, pkcePair, randomToken, registerClient, signIn, TestBrowser } from '../support/signin.js';

// Each CLI command is a process start (about a second; more on a loaded machine).
jest.setTimeout(300_000);

type UserJson = { id: string; email: string; name: string | null; disabled: boolean; locked_until: string | null; email_verified: boolean };

describe.each(PROVIDERS)('admin CLI: users (%s)', (provider) => {
  let database: TestDatabase;
  let cli: Cli;
  let gh: TestGatehouse;

  beforeAll(async () => {
    database = await freshDatabase(provider);
    cli = cliFor(database);
    gh = await startGatehouse(provider, { LOGIN_LOCKOUT_THRESHOLD: '2' }, database);
  });
  afterAll(async () => {
    await gh?.close();
    await database?.drop();
  });

  test('user create reads the password from stdin; the person can sign in; weak passwords and duplicates are refused', async () => {
    const created = await cli.json<UserJson>(['user', 'create', '--email', 'Ada@Example.com', '--name', 'Ada Lovelace', '--email-verified', '--password-stdin'], { input: `${PASSWORD}\n` });
    expect(created).toMatchObject({ email: 'ada@example.com', name: 'Ada Lovelace', email_verified: true, disabled: false });
    expect(JSON.stringify(created)).not.toContain(PASSWORD);

    const client = await registerClient(gh);
    const browser = new TestBrowser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, browser, client, 'ada@example.com');
    expect((await exchangeCode(gh, client, callback.code!, verifier)).status).toBe(200);

    const weak = await cli(['user', 'create', '--email', 'weak@example.com', '--password-stdin'], { input: 'short\n' });
    expect(weak.code).toBe(2);
    expect(weak.stderr).toMatch(/^gatehouse: password must be at least \d+ characters long\n$/);
    const duplicate = await cli(['user', 'create', '--email', 'ADA@example.com', '--password-stdin'], { input: PASSWORD });
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toBe('gatehouse: a user with email ada@example.com already exists\n');
    const badEmail = await cli(['user', 'create', '--email', 'not-an-email', '--password-stdin'], { input: PASSWORD });
    expect(badEmail.code).toBe(2);
    expect(badEmail.stderr).toMatch(/email: must be an email address/);
    const noTerminal = await cli(['user', 'create', '--email', 'tty@example.com']);
    expect(noTerminal.code).toBe(2);
    expect(noTerminal.stderr).toMatch(/--password-stdin/);
  });

  test('list, show, set-password, disable, enable, unlock', async () => {
    const user = await cli.json<UserJson>(['user', 'create', '--email', 'grace@example.com', '--password-stdin'], { input: PASSWORD });
    const list = await cli(['user', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+EMAIL\s+NAME\s+STATUS\s+LAST_LOGIN$/m);
    expect(list.stdout).toMatch(new RegExp(`${user.id}\\s+grace@example\\.com\\s+-\\s+active`));
    expect((await cli.json<UserJson>(['user', 'show', user.id])).email).toBe('grace@example.com');
    expect((await cli(['user', 'show', 'nobody@example.com'])).code).toBe(1);

    // Lock the account with wrong passwords through the real login page (threshold 2), then unlock it.
    const client = await registerClient(gh);
    for (let i = 0; i < 2; i++) {
      const browser = new TestBrowser(gh);
      const { challenge } = pkcePair();
      const landing = await browser.get(authorizationUrl(gh, { client, state: randomToken(), nonce: randomToken(), codeChallenge: challenge }));
      expect(expectPage(await signIn(browser, landing, 'grace@example.com', 'wrong password, twice')).status).toBe(400);
    }
    expect((await cli.json<UserJson>(['user', 'show', 'grace@example.com'])).locked_until).not.toBeNull();
    expect((await cli(['user', 'list'])).stdout).toMatch(/grace@example\.com\s+-\s+locked/);
    const unlocked = await cli.json<UserJson>(['user', 'unlock', 'grace@example.com']);
    expect(unlocked.locked_until).toBeNull();
    expect((await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).failedLoginCount).toBe(0);

    const changed = await cli(['user', 'set-password', 'grace@example.com', '--password-stdin'], { input: 'a brand new passphrase 42' });
    expect(changed.code).toBe(0);
    expect(changed.stdout).toBe('password of grace@example.com changed\n');
    const weak = await cli(['user', 'set-password', 'grace@example.com', '--password-stdin'], { input: 'tiny' });
    expect(weak.code).toBe(2);

    expect((await cli.json<UserJson>(['user', 'disable', 'grace@example.com'])).disabled).toBe(true);
    expect((await cli.json<UserJson>(['user', 'enable', 'grace@example.com'])).disabled).toBe(false);
    expect((await cli(['user', 'disable', 'ghost@example.com'])).code).toBe(1);
  });

  test('user sessions lists grants with client and times; user revoke removes them and their tokens', async () => {
    await cli.json(['user', 'create', '--email', 'linus@example.com', '--password-stdin'], { input: PASSWORD });
    const first = await registerClient(gh, { name: 'First app' });
    const second = await registerClient(gh, { name: 'Second app' });
    const browser = new TestBrowser(gh);
    for (const client of [first, second]) {
      const { callback, verifier } = await authorizeAndSignIn(gh, browser, client, 'linus@example.com', { scope: 'openid offline_access', extra: { prompt: 'consent' } });
      expect((await exchangeCode(gh, client, callback.code!, verifier)).status).toBe(200);
    }
    type Session = { client_id: string; created_at: string; last_used_at: string };
    const sessions = await cli.json<Session[]>(['user', 'sessions', 'linus@example.com']);
    expect(sessions.map((s) => s.client_id).sort()).toEqual([first.clientId, second.clientId].sort());
    for (const s of sessions) expect(Date.parse(s.last_used_at)).toBeGreaterThanOrEqual(Date.parse(s.created_at));
    const table = await cli(['user', 'sessions', 'linus@example.com']);
    expect(table.stdout).toMatch(/^CLIENT_ID\s+CREATED\s+LAST_USED\s+EXPIRES$/m);

    const one = await cli.json<{ revoked_grants: number }>(['user', 'revoke', 'linus@example.com', '--client', first.clientId]);
    expect(one.revoked_grants).toBe(1);
    expect((await cli.json<Session[]>(['user', 'sessions', 'linus@example.com'])).map((s) => s.client_id)).toEqual([second.clientId]);
    const all = await cli.json<{ revoked_grants: number }>(['user', 'revoke', 'linus@example.com']);
    expect(all.revoked_grants).toBe(1);
    const user = await gh.db.prisma.user.findUniqueOrThrow({ where: { email: 'linus@example.com' } });
    expect(await gh.db.prisma.refreshToken.count({ where: { accountId: user.id } })).toBe(0);
    expect(await gh.db.prisma.grant.count({ where: { accountId: user.id } })).toBe(0);
    expect((await cli(['user', 'sessions', 'linus@example.com'])).stdout).toBe('linus@example.com holds no grants\n');
  });

  test('an unreachable database is a one-line runtime failure', async () => {
    const offline = cliFor({ ...database, url: provider === 'sqlite' ? 'file:/etc/hostname/not-a-dir/g.db' : 'postgresql://postgres@127.0.0.1:1/none' });
    const run = await offline(['user', 'list']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^gatehouse: /);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
