// The account service functions the admin CLI calls: creating people with a normalised email,
// an opaque id and an argon2id hash, the password policy, and the state changes.
import { randomUUID } from 'node:crypto';
import {
  CURRENT_ARGON2_PARAMS,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  hashParameters,
  hashPassword,
  needsRehash,
  passwordProblem,
  verifyPassword,
} from '../../src/accounts/passwords.js';
import {
  UserError,
  createUser,
  getUserByEmail,
  getUserById,
  listUsers,
  setPassword,
  setUserDisabled,
  unlockUser,
} from '../../src/accounts/users.js';
import { openDatabase, type Database } from '../../src/db/client.js';
import { PROVIDERS, freshDatabase, type TestDatabase } from '../support/databases.js';

const PASSWORD = 'a perfectly fine passphrase';

async function userError(promise: Promise<unknown>): Promise<UserError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UserError) return error;
    throw error;
  }
  throw new Error('expected a UserError');
}

describe('password policy (length first, no composition rules)', () => {
  test('12 to 128 characters, counted as characters, any characters allowed', () => {
    expect(passwordProblem('a'.repeat(PASSWORD_MIN_LENGTH - 1))).toBe('must be at least 12 characters long');
    expect(passwordProblem('a'.repeat(PASSWORD_MIN_LENGTH))).toBeNull();
    expect(passwordProblem('a'.repeat(PASSWORD_MAX_LENGTH))).toBeNull();
    expect(passwordProblem('a'.repeat(PASSWORD_MAX_LENGTH + 1))).toBe('must be at most 128 characters long');
    // No rule about digits, case or symbols: a long lower-case phrase is fine.
    expect(passwordProblem('correct horse battery staple')).toBeNull();
    // Twelve emoji are twelve characters (24 UTF-16 units).
    expect(passwordProblem('🔑'.repeat(12))).toBeNull();
    expect(passwordProblem('🔑'.repeat(11))).toMatch(/at least 12/);
    expect(passwordProblem(' '.repeat(20))).toBe('must not be only spaces');
  });

  test('hashes are argon2id with at least m=19 MiB, t=2, p=1, and verify after Unicode normalisation', async () => {
    expect(CURRENT_ARGON2_PARAMS.memoryCost).toBeGreaterThanOrEqual(19 * 1024);
    expect(CURRENT_ARGON2_PARAMS.timeCost).toBeGreaterThanOrEqual(2);
    const hash = await hashPassword('café au lait ☕ twelve');
    expect(hashParameters(hash)).toEqual({ algorithm: 'argon2id', version: 19, memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    // The same text typed with a combining accent (NFD) matches.
    expect(await verifyPassword(hash, 'cafe\u0301 au lait ☕ twelve')).toBe(true);
    expect(await verifyPassword(hash, 'cafe au lait ☕ twelve')).toBe(false);
    expect(await verifyPassword('not a hash', 'anything')).toBe(false);
  });

  test('a hash is due for upgrade when any parameter is below the current ones', async () => {
    expect(needsRehash(await hashPassword(PASSWORD))).toBe(false);
    expect(needsRehash(await hashPassword(PASSWORD, { memoryCost: 8192, timeCost: 2, parallelism: 1 }))).toBe(true);
    expect(needsRehash(await hashPassword(PASSWORD, { memoryCost: 19_456, timeCost: 1, parallelism: 1 }))).toBe(true);
    // Stronger than current is kept.
    expect(needsRehash(await hashPassword(PASSWORD, { memoryCost: 32_768, timeCost: 3, parallelism: 1 }))).toBe(false);
    expect(needsRehash('$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g')).toBe(true);
    expect(needsRehash('$2b$12$bcryptbcryptbcryptbcryptbcryptbcryptbcryptbcryptbcr')).toBe(true);
  });
});

describe.each(PROVIDERS)('account service on %s', (provider) => {
  let database: TestDatabase;
  let db: Database;
  beforeAll(async () => {
    database = await freshDatabase(provider);
    db = await openDatabase(database.url);
  });
  afterAll(async () => {
    await db.close();
    await database.drop();
  });

  test('createUser normalises the email, gives an opaque id, stores only an argon2id hash', async () => {
    const user = await createUser(db.prisma, { email: '  Ada.Lovelace@Example.COM ', name: ' Ada ', password: PASSWORD });
    expect(user).toMatchObject({ email: 'ada.lovelace@example.com', name: 'Ada', email_verified: false, disabled: false, locked_until: null });
    expect(user.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(user).not.toHaveProperty('passwordHash');
    expect(JSON.stringify(user)).not.toContain('argon2');
    const row = await db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(hashParameters(row.passwordHash ?? '')).toMatchObject({ algorithm: 'argon2id', memoryCost: 19_456, timeCost: 2, parallelism: 1 });
    expect(row.passwordHash).not.toContain(PASSWORD);
    expect(await getUserByEmail(db.prisma, 'ADA.LOVELACE@example.com ')).toEqual(user);
    expect(await getUserById(db.prisma, user.id)).toEqual(user);
  });

  test('a duplicate email (in any case) is refused with a clear message', async () => {
    await createUser(db.prisma, { email: 'dup@example.com', password: PASSWORD });
    const error = await userError(createUser(db.prisma, { email: ' DUP@example.com', password: PASSWORD }));
    expect(error.code).toBe('duplicate_email');
    expect(error.message).toBe('a user with email dup@example.com already exists');
  });

  test('weak passwords and bad input are refused, naming the problem', async () => {
    const short = await userError(createUser(db.prisma, { email: 'short@example.com', password: 'elevenchars' }));
    expect(short).toMatchObject({ code: 'weak_password', message: 'password must be at least 12 characters long' });
    const long = await userError(createUser(db.prisma, { email: 'long@example.com', password: 'x'.repeat(129) }));
    expect(long.code).toBe('weak_password');
    const bad = await userError(createUser(db.prisma, { email: 'not-an-email', password: PASSWORD, role: 'admin' } as never));
    expect(bad.code).toBe('invalid');
    expect(bad.problems).toEqual(expect.arrayContaining(['email: must be an email address', 'role: is not a recognised field']));
    expect(await db.prisma.user.count({ where: { email: { in: ['short@example.com', 'long@example.com'] } } })).toBe(0);
  });

  test('setPassword checks the policy, replaces the hash and clears a lockout', async () => {
    const user = await createUser(db.prisma, { email: 'reset@example.com', password: PASSWORD });
    await db.prisma.user.update({ where: { id: user.id }, data: { lockedUntil: new Date(Date.now() + 60_000), failedLoginCount: 4 } });
    expect((await userError(setPassword(db.prisma, user.id, 'too short'))).code).toBe('weak_password');
    const updated = await setPassword(db.prisma, user.id, 'a brand new passphrase');
    expect(updated).toMatchObject({ locked_until: null, failed_login_count: 0 });
    const row = await db.prisma.user.findUniqueOrThrow({ where: { id: user.id } });
    expect(await verifyPassword(row.passwordHash ?? '', 'a brand new passphrase')).toBe(true);
    expect(await verifyPassword(row.passwordHash ?? '', PASSWORD)).toBe(false);
  });

  test('listUsers, setUserDisabled and unlockUser', async () => {
    const user = await createUser(db.prisma, { email: 'state@example.com', password: PASSWORD, email_verified: true });
    expect((await listUsers(db.prisma)).map((u) => u.email)).toContain('state@example.com');
    expect(await setUserDisabled(db.prisma, user.id, true)).toMatchObject({ disabled: true });
    expect(await setUserDisabled(db.prisma, user.id, false)).toMatchObject({ disabled: false });

    const until = new Date(Date.now() + 60_000);
    await db.prisma.user.update({ where: { id: user.id }, data: { lockedUntil: until, failedLoginCount: 5, failedLoginStartAt: new Date() } });
    expect((await getUserById(db.prisma, user.id))?.locked_until).toBe(until.toISOString());
    expect(await unlockUser(db.prisma, user.id)).toMatchObject({ locked_until: null, failed_login_count: 0 });
  });

  test('unknown users are reported as not found', async () => {
    const missing = randomUUID();
    // Each call starts only when awaited: started together, a rejection that arrives before its
    // turn would be unhandled and fail the whole suite.
    const calls = [() => setUserDisabled(db.prisma, missing, true), () => unlockUser(db.prisma, missing), () => setPassword(db.prisma, missing, PASSWORD)];
    for (const call of calls) {
      const error = await userError(call());
      expect(error).toMatchObject({ code: 'not_found', message: `no user with id ${missing}` });
    }
    expect(await getUserByEmail(db.prisma, 'nobody@example.com')).toBeNull();
  });
});
