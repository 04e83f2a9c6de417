// Account lockout under concurrent sign-ins: each attempt reserves its place in the failure
// count before its password is verified (src/accounts/authenticate.ts), so a burst sent at once
// from many addresses gets no more verifications than the threshold allows. Per-address limits
// do not help here: every attempt comes from an address of its own (X-Forwarded-For through one
// trusted proxy).
import { authenticate } from '../../src/accounts/authenticate.js';
import { createPasswordHasher, type PasswordHasher } from '../../src/accounts/passwords.js';
import { PROVIDERS } from '../support/databases.js';
import {
  PASSWORD,
  TestBrowser,
  authorizationUrl,
  expectPage,
  formWithAction,
  pkcePair,
  registerClient,
  registerUser,
  type Landing,
} from '../support/signin.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const THRESHOLD = 5;
const BURST = 20;

let addressCounter = 0;
/** A documentation address (RFC 5737) used once in this file. */
function newAddress(): string {
  addressCounter += 1;
  return `203.0.113.${addressCounter}`;
}

function signedIn(landing: Landing): boolean {
  return landing.kind === 'page' ? landing.html.includes('/consent"') : landing.location.searchParams.has('code');
}

describe.each(PROVIDERS)('account lockout under concurrent sign-ins on %s', (provider) => {
  const gh = useGatehouse(provider, {
    TRUST_PROXY: 'true',
    LOGIN_LOCKOUT_THRESHOLD: String(THRESHOLD),
    LOGIN_LOCKOUT_WINDOW: '10m',
    LOGIN_LOCKOUT_DURATION: '10m',
  });
  const client = useBeforeAll(() => registerClient(gh));

  /** Opens one login page per password, each from its own address, then posts them all at once. */
  async function burst(email: string, passwords: string[]): Promise<Landing[]> {
    const forms = await Promise.all(
      passwords.map(async (password) => {
        const browser = new TestBrowser(gh, { 'x-forwarded-for': newAddress() });
        const page = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
        return { browser, form: formWithAction(page.html, '/login'), password };
      }),
    );
    return Promise.all(forms.map(({ browser, form, password }) => browser.submit(form, { email, password })));
  }

  async function reasons(subject: string): Promise<string[]> {
    const rows = await gh.db.prisma.auditEvent.findMany({ where: { type: 'login.failure', subject } });
    return rows.map((row) => String((row.details as Record<string, unknown>).reason));
  }

  /** The burst's requests have all been answered, so its audit rows are being written; wait for them. */
  async function settledReasons(subject: string, expected: number): Promise<string[]> {
    for (let attempt = 0; attempt < 125; attempt++) {
      const found = await reasons(subject);
      if (found.length >= expected) return found;
      await new Promise((r) => setTimeout(r, 40));
    }
    return reasons(subject);
  }

  test('finding 15.1: 19 wrong passwords and the right one sent at once from 20 addresses: at most the threshold is verified', async () => {
    const user = await registerUser(gh);
    const passwords = Array.from({ length: BURST - 1 }, (_, i) => `wrong password number ${i}`);
    passwords.splice(Math.floor(BURST / 2), 0, PASSWORD);
    const landings = await burst(user.email, passwords);

    for (const landing of landings) if (landing.kind === 'page') expect(landing.status).toBeLessThan(500);
    const successes = landings.filter(signedIn).length;
    const failures = await settledReasons(user.id, BURST - successes);
    expect(failures).toHaveLength(BURST - successes);
    const wrongVerified = failures.filter((reason) => reason === 'wrong_password').length;
    // Every other attempt was refused before its password was checked.
    expect(failures.filter((reason) => reason !== 'wrong_password').every((reason) => reason === 'account_locked')).toBe(true);
    // No more passwords were verified than the threshold allows, the right one included.
    expect(wrongVerified + successes).toBeLessThanOrEqual(THRESHOLD);
    const row = await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    if (wrongVerified === THRESHOLD) {
      // Five failures recorded: the right password did not sign in, and the account is locked.
      expect(successes).toBe(0);
      expect(row.lockedUntil!.getTime()).toBeGreaterThan(Date.now());
    }
    expect(successes).toBeLessThanOrEqual(1);
  });

  test('finding 15.1: with threshold - 1 failures recorded, a burst of 19 wrong and the right one verifies one password at most', async () => {
    const user = await registerUser(gh);
    for (let i = 0; i < THRESHOLD - 1; i++) {
      const [landing] = await burst(user.email, [`wrong password ${i}`]);
      expect(signedIn(landing!)).toBe(false);
    }
    expect((await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).failedLoginCount).toBe(THRESHOLD - 1);

    const passwords = Array.from({ length: BURST - 1 }, (_, i) => `wrong password number ${i}`);
    passwords.splice(3, 0, PASSWORD);
    const landings = await burst(user.email, passwords);
    const successes = landings.filter(signedIn).length;
    const failures = await settledReasons(user.id, THRESHOLD - 1 + BURST - successes);
    const wrongVerified = failures.filter((reason) => reason === 'wrong_password').length - (THRESHOLD - 1);
    expect(wrongVerified + successes).toBeLessThanOrEqual(1);
    if (wrongVerified === 1) {
      // The fifth failure locked the account: the right password, sent with it, was refused.
      expect(successes).toBe(0);
      const row = await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
      expect(row.lockedUntil!.getTime()).toBeGreaterThan(Date.now());
      const locked = await gh.db.prisma.auditEvent.count({ where: { type: 'account.locked', subject: user.id } });
      expect(locked).toBe(1);
    }
  });

  // The interleaving the burst above leaves to chance, fixed: wrong passwords still being checked
  // while the right one succeeds keep their places, so the success gives back only its own.
  test('finding 15.1: a success while wrong passwords are being checked hands none of their places back', async () => {
    const user = await registerUser(gh);
    const policy = gh.config.lockout;
    const real = createPasswordHasher();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const held: PasswordHasher = { ...real, verify: async (hash, password) => gate.then(() => real.verify(hash, password)) };
    const wrong = (hasher: PasswordHasher, i: number) => authenticate(gh.db.prisma, hasher, policy, { email: user.email, password: `wrong password ${i}` });

    const inFlight = Array.from({ length: THRESHOLD - 1 }, (_, i) => wrong(held, i));
    // Wait until all of them have reserved their places (counted before their check).
    for (let i = 0; i < 250; i++) {
      if ((await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).failedLoginCount === THRESHOLD - 1) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).failedLoginCount).toBe(THRESHOLD - 1);

    expect(await authenticate(gh.db.prisma, real, policy, { email: user.email, password: PASSWORD })).toMatchObject({ ok: true });
    // One place is left in the window, not a fresh window's worth.
    expect(await wrong(real, 100)).toMatchObject({ ok: false, reason: 'wrong_password' });
    expect(await wrong(real, 101)).toMatchObject({ ok: false, reason: 'account_locked' });

    release();
    const results = await Promise.all(inFlight);
    expect(results.every((r) => !r.ok && r.reason === 'wrong_password')).toBe(true);
    // Threshold wrong passwords checked: the last of them locked the account, once.
    expect(results.filter((r) => !r.ok && r.lockedNow)).toHaveLength(1);
    expect((await gh.db.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).lockedUntil!.getTime()).toBeGreaterThan(Date.now());
    expect(await authenticate(gh.db.prisma, real, policy, { email: user.email, password: PASSWORD })).toMatchObject({ ok: false, reason: 'account_locked' });
  });
});
