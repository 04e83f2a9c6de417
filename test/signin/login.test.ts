// The login page against guessing: one generic message, per-account lockout with its audit
// event, disabled accounts, per-IP limits, the cost of unknown emails, hash upgrades, and
// passwords kept out of logs and audit rows.
import { hashParameters, hashPassword, CURRENT_ARGON2_PARAMS, createPasswordHasher, type PasswordHasher } from '../../src/accounts/passwords.js';
import { authenticate } from '../../src/accounts/authenticate.js';
import { setUserDisabled, unlockUser } from '../../src/accounts/users.js';
import { PROVIDERS } from '../support/databases.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import {
  PASSWORD,
  TestBrowser,
  auditRows,
  authorizationUrl,
  authorizeAndSignIn,
  callbackOf,
  exchangeCode,
  expectPage,
  pkcePair,
  registerClient,
  registerUser,
  signIn,
  userinfo,
  type TestClient,
} from '../support/signin.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const GENERIC = 'Invalid email or password.';

async function openLogin(gh: TestGatehouse, client: TestClient, browser = new TestBrowser(gh)) {
  const page = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
  return { browser, page };
}

/** The page a login attempt answers with, with the email the person typed. */
async function attempt(gh: TestGatehouse, client: TestClient, email: string, password: string) {
  const { browser, page } = await openLogin(gh, client);
  return { browser, landing: await signIn(browser, page, email, password) };
}

describe.each(PROVIDERS)('login protections on %s', (provider) => {
  // The per-IP limit is set high here: every test signs in from 127.0.0.1.
  const gh = useGatehouse(provider, {
    LOGIN_LOCKOUT_THRESHOLD: '3',
    LOGIN_LOCKOUT_WINDOW: '10m',
    LOGIN_LOCKOUT_DURATION: '10m',
    LOGIN_IP_LIMIT: '1000',
  });
  const client = useBeforeAll(() => registerClient(gh));

  test('a wrong password and an unknown email get the same page, keeping the typed email', async () => {
    const user = await registerUser(gh);
    const { browser, page } = await openLogin(gh, client);
    const wrong = expectPage(await signIn(browser, page, user.email, 'not the password at all'));
    const unknownEmail = `nobody-${user.email}`;
    const unknown = expectPage(await signIn(browser, page, unknownEmail, 'not the password at all'));

    expect(wrong.status).toBe(400);
    expect(unknown.status).toBe(400);
    expect(wrong.html).toContain(GENERIC);
    expect(wrong.html).toMatch(new RegExp(`name="email" type="email" value="${user.email.replace(/[.+]/g, '\\$&')}"`));
    // Same interaction, same form: the pages differ only by the email typed.
    expect(unknown.html.replace(unknownEmail, user.email)).toBe(wrong.html);

    const failures = await auditRows(gh, 'login.failure', { clientId: client.clientId }, 2);
    expect(failures.map((row) => (row.details as Record<string, unknown>).reason)).toEqual(expect.arrayContaining(['wrong_password', 'unknown_email']));
    expect(failures.find((row) => (row.details as Record<string, unknown>).reason === 'wrong_password')?.subject).toBe(user.id);
  });

  test('an unknown email costs one password verification, like a wrong password', async () => {
    const real = createPasswordHasher();
    const calls: string[] = [];
    const counting: PasswordHasher = {
      ...real,
      verify: async (hash, password) => {
        calls.push('verify');
        return real.verify(hash, password);
      },
      verifyDummy: async (password) => {
        calls.push('verifyDummy');
        return real.verifyDummy(password);
      },
    };
    const policy = gh.config.lockout;
    const unknown = await authenticate(gh.db.prisma, counting, policy, { email: 'no-such-person@example.com', password: 'whatever-you-like' });
    expect(unknown).toMatchObject({ ok: false, reason: 'unknown_email' });
    expect(calls).toEqual(['verifyDummy']);

    calls.length = 0;
    const user = await registerUser(gh);
    const wrong = await authenticate(gh.db.prisma, counting, policy, { email: user.email, password: 'whatever-you-like' });
    expect(wrong).toMatchObject({ ok: false, reason: 'wrong_password' });
    expect(calls).toEqual(['verify']);
  });

  test('after N failures the account is locked, even for the right password, and account.locked is audited once', async () => {
    const user = await registerUser(gh);
    for (let i = 0; i < 3; i++) {
      const { landing } = await attempt(gh, client, user.email, `wrong password ${i}!`);
      expect(expectPage(landing).html).toContain(GENERIC);
    }
    const row = await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(row.lockedUntil!.getTime()).toBeGreaterThan(Date.now() + 9 * 60 * 1000);

    // Locked: the right password gets the same generic page, and nothing else is revealed.
    const { landing } = await attempt(gh, client, user.email, PASSWORD);
    const page = expectPage(landing);
    expect(page.status).toBe(400);
    expect(page.html).toContain(GENERIC);
    expect(page.html).not.toMatch(/locked/i);

    const locked = await auditRows(gh, 'account.locked', { subject: user.id });
    expect(locked).toHaveLength(1);
    expect(locked[0]).toMatchObject({ outcome: 'success', clientId: client.clientId });
    const reasons = (await auditRows(gh, 'login.failure', { subject: user.id }, 4)).map((r) => (r.details as Record<string, unknown>).reason);
    expect(reasons).toEqual(['wrong_password', 'wrong_password', 'wrong_password', 'account_locked']);

    // The operator's unlock (CLI) lets the person in again.
    await unlockUser(gh.db.prisma, user.id);
    const { landing: afterUnlock } = await attempt(gh, client, user.email, PASSWORD);
    expect(expectPage(afterUnlock).html).toContain('/consent"');
  });

  test('a lock ends by itself when its time is up', async () => {
    const user = await registerUser(gh);
    for (let i = 0; i < 3; i++) await attempt(gh, client, user.email, `wrong password ${i}!`);
    expect(expectPage((await attempt(gh, client, user.email, PASSWORD)).landing).html).toContain(GENERIC);
    // Rather than waiting: the lock is made to have ended a second ago.
    await gh.db.prisma.user.update({ where: { id: user.id }, data: { lockedUntil: new Date(Date.now() - 1000) } });
    expect(expectPage((await attempt(gh, client, user.email, PASSWORD)).landing).html).toContain('/consent"');
  });

  test('failures older than the window are not counted', async () => {
    const user = await registerUser(gh);
    await attempt(gh, client, user.email, 'wrong password 1!');
    await attempt(gh, client, user.email, 'wrong password 2!');
    // The window started 11 minutes ago (window: 10 minutes): the next failure starts a new one.
    await gh.db.prisma.user.update({ where: { id: user.id }, data: { failedLoginStartAt: new Date(Date.now() - 11 * 60 * 1000) } });
    await attempt(gh, client, user.email, 'wrong password 3!');
    const row = await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(row.lockedUntil).toBeNull();
    expect(row.failedLoginCount).toBe(1);
  });

  test('a successful sign-in resets the failure count', async () => {
    const user = await registerUser(gh);
    await attempt(gh, client, user.email, 'wrong password 1!');
    await attempt(gh, client, user.email, 'wrong password 2!');
    await attempt(gh, client, user.email, PASSWORD);
    await attempt(gh, client, user.email, 'wrong password 3!');
    const row = await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(row.lockedUntil).toBeNull();
    expect(row.failedLoginCount).toBe(1);
    expect(row.lastLoginAt).not.toBeNull();
  });

  test('a disabled user cannot sign in, and their existing tokens stop working', async () => {
    const user = await registerUser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, new TestBrowser(gh), client, user.email);
    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    expect((await userinfo(gh, tokens.body.access_token as string)).status).toBe(200);

    await setUserDisabled(gh.db.prisma, user.id, true);
    const page = expectPage((await attempt(gh, client, user.email, PASSWORD)).landing);
    expect(page.html).toContain(GENERIC);
    expect((await userinfo(gh, tokens.body.access_token as string)).status).toBe(401);
    const [failure] = await auditRows(gh, 'login.failure', { subject: user.id });
    expect(failure?.details).toMatchObject({ reason: 'account_disabled' });

    // Enabled again: signing in works (and the earlier consent still holds).
    await setUserDisabled(gh.db.prisma, user.id, false);
    expect(callbackOf((await attempt(gh, client, user.email, PASSWORD)).landing, client).code).toEqual(expect.any(String));
  });

  test('a hash with outdated parameters is upgraded at the next successful sign-in', async () => {
    const user = await registerUser(gh);
    const weak = await hashPassword(PASSWORD, { memoryCost: 4096, timeCost: 1, parallelism: 1 });
    await gh.db.prisma.user.update({ where: { id: user.id }, data: { passwordHash: weak } });
    // A failed attempt does not touch the hash (the password is not known to be right).
    await attempt(gh, client, user.email, 'wrong password here');
    expect((await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash).toBe(weak);

    expect(expectPage((await attempt(gh, client, user.email, PASSWORD)).landing).html).toContain('/consent"');
    const stored = (await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).passwordHash;
    expect(hashParameters(stored ?? '')).toMatchObject({ algorithm: 'argon2id', ...CURRENT_ARGON2_PARAMS });
    const [success] = await auditRows(gh, 'login.success', { subject: user.id });
    expect(success?.details).toMatchObject({ password_rehashed: true });
    // And the password still works with the new hash.
    expect(expectPage((await attempt(gh, client, user.email, PASSWORD)).landing).html).toContain('/consent"');
  });

  test('passwords never reach the logs or the audit trail', async () => {
    const user = await registerUser(gh);
    const typed = 'Sup3r-Secret-Typed-Password';
    await attempt(gh, client, user.email, typed);
    await attempt(gh, client, `ghost-${user.email}`, typed);
    await attempt(gh, client, user.email, PASSWORD);
    const audit = JSON.stringify(await gh.db.prisma.auditEvent.findMany());
    const logs = gh.logs.join('');
    for (const secret of [typed, PASSWORD, encodeURIComponent(PASSWORD)]) {
      expect(audit).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
  });
});

describe.each(PROVIDERS)('per-IP login limit on %s', (provider) => {
  const gh = useGatehouse(provider, { LOGIN_IP_LIMIT: '3', LOGIN_IP_WINDOW: '10m' });
  const client = useBeforeAll(() => registerClient(gh));

  test('successful sign-ins do not use up the budget', async () => {
    const user = await registerUser(gh);
    for (let i = 0; i < 5; i++) {
      expect(expectPage((await attempt(gh, client, user.email, PASSWORD)).landing).html).toContain('/consent"');
    }
  });

  test('after the limit of failures from one address, every attempt gets 429 until the window ends', async () => {
    const user = await registerUser(gh);
    for (let i = 0; i < 3; i++) {
      const page = expectPage((await attempt(gh, client, `unknown-${i}@example.com`, 'wrong password here')).landing);
      expect(page.status).toBe(400);
      expect(page.headers.get('ratelimit-limit')).toBe('3');
      expect(page.headers.get('ratelimit-remaining')).toBe(String(2 - i));
    }
    // Even the right password is not checked now.
    const limited = expectPage((await attempt(gh, client, user.email, PASSWORD)).landing);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(600);
    expect(limited.html).toContain('Too many failed sign-in attempts');
    expect((await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).lastLoginAt).toBeNull();
    const failures = await auditRows(gh, 'login.failure', { clientId: client.clientId }, 4);
    expect(failures.map((row) => (row.details as Record<string, unknown>).reason)).toContain('rate_limited');
  });
});
