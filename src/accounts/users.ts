// People who sign in: plain functions over Prisma for the admin CLI, the seed and tests.
// The user id is the opaque, stable `sub` (OpenID Connect Core §5.7: never reassigned, and not
// the email, which a person may change). Emails are stored normalised (trimmed, lower-cased)
// so that one address cannot hold two accounts. No read returns the password hash.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { formatZodIssues } from '../util/validation.js';
import { hashPassword, passwordProblem } from './passwords.js';

export type UserErrorCode = 'invalid' | 'weak_password' | 'duplicate_email' | 'not_found';

/** The one error type of these functions; `message` is written for the person at the CLI. */
export class UserError extends Error {
  override name = 'UserError';
  readonly code: UserErrorCode;
  readonly problems: string[];

  constructor(code: UserErrorCode, message: string, problems: string[] = []) {
    super(problems.length ? `${message}: ${problems.join('; ')}` : message);
    this.code = code;
    this.problems = problems;
  }
}

/** RFC 5321 §4.5.3.1.3 bounds a path at 256 octets, so an address fits in 254 characters. */
export const EMAIL_MAX_LENGTH = 254;

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export const emailSchema = z
  .string({ message: 'must be a string' })
  .transform(normalizeEmail)
  .pipe(z.email({ message: 'must be an email address' }).max(EMAIL_MAX_LENGTH, `must be at most ${EMAIL_MAX_LENGTH} characters`));

const nameSchema = z
  .string({ message: 'must be a string' })
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters');

const newUserSchema = z.strictObject({
  email: emailSchema,
  name: nameSchema.optional(),
  password: z.string({ message: 'must be a string' }),
  email_verified: z.boolean({ message: 'must be true or false' }).optional(),
});
export type NewUser = z.input<typeof newUserSchema>;

const userIdSchema = z.string({ message: 'must be a string' }).min(1, 'must not be empty').max(200, 'must be at most 200 characters');

/** A user as callers see it: everything but the password hash. */
export type UserView = {
  id: string;
  email: string;
  email_verified: boolean;
  name: string | null;
  disabled: boolean;
  /** False for a person who signs in only through upstream identity providers. */
  has_password: boolean;
  /** When the current lockout ends; null when the account is not locked. */
  locked_until: string | null;
  failed_login_count: number;
  last_login_at: string | null;
  created_at: string;
  updated_at: string;
};

type UserRow = {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  disabled: boolean;
  passwordHash: string | null;
  failedLoginCount: number;
  lockedUntil: Date | null;
  lastLoginAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
};

function toUserView(row: UserRow, now = new Date()): UserView {
  return {
    id: row.id,
    email: row.email,
    email_verified: row.emailVerified,
    name: row.name,
    disabled: row.disabled,
    has_password: row.passwordHash !== null,
    locked_until: row.lockedUntil && row.lockedUntil > now ? row.lockedUntil.toISOString() : null,
    failed_login_count: row.failedLoginCount,
    last_login_at: row.lastLoginAt?.toISOString() ?? null,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new UserError('invalid', `invalid ${what}`, formatZodIssues(parsed.error));
}

function assertStrongPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw new UserError('weak_password', `password ${problem}`);
}

export async function createUser(prisma: Db, input: NewUser): Promise<UserView> {
  const user = parse(newUserSchema, input, 'user');
  assertStrongPassword(user.password);
  const passwordHash = await hashPassword(user.password);
  try {
    const row = await prisma.user.create({
      data: {
        id: randomUUID(),
        email: user.email,
        emailVerified: user.email_verified ?? false,
        name: user.name ?? null,
        passwordHash,
      },
    });
    return toUserView(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw new UserError('duplicate_email', `a user with email ${user.email} already exists`);
    throw error;
  }
}

const passwordlessUserSchema = newUserSchema.omit({ password: true });
export type NewPasswordlessUser = z.input<typeof passwordlessUserSchema>;

/**
 * A person without a password, who signs in through an upstream identity provider (created just
 * in time by src/upstream/). Password sign-in refuses them (src/accounts/authenticate.ts).
 */
export async function createPasswordlessUser(prisma: Db, input: NewPasswordlessUser): Promise<UserView> {
  const user = parse(passwordlessUserSchema, input, 'user');
  try {
    const row = await prisma.user.create({
      data: { id: randomUUID(), email: user.email, emailVerified: user.email_verified ?? false, name: user.name ?? null, passwordHash: null },
    });
    return toUserView(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw new UserError('duplicate_email', `a user with email ${user.email} already exists`);
    throw error;
  }
}

/** Sets a new password (policy-checked) and clears any lockout: the operator has vouched. */
export async function setPassword(prisma: Db, userId: string, password: string): Promise<UserView> {
  const id = parse(userIdSchema, userId, 'user id');
  assertStrongPassword(parse(z.string({ message: 'must be a string' }), password, 'password'));
  const passwordHash = await hashPassword(password);
  const { count } = await prisma.user.updateMany({
    where: { id },
    data: { passwordHash, failedLoginCount: 0, failedLoginChecked: 0, failedLoginStartAt: null, lockedUntil: null },
  });
  if (count === 0) throw new UserError('not_found', `no user with id ${id}`);
  return requireUser(prisma, id);
}

export async function getUserById(prisma: Db, userId: string): Promise<UserView | null> {
  if (userId.length > 200) return null;
  const row = await prisma.user.findUnique({ where: { id: userId } });
  return row ? toUserView(row) : null;
}

/** Looks an email up as it would be stored (trimmed, lower-cased). */
export async function getUserByEmail(prisma: Db, email: string): Promise<UserView | null> {
  const normalized = normalizeEmail(email);
  if (normalized.length > EMAIL_MAX_LENGTH) return null;
  const row = await prisma.user.findUnique({ where: { email: normalized } });
  return row ? toUserView(row) : null;
}

export async function listUsers(prisma: Db): Promise<UserView[]> {
  const rows = await prisma.user.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  const now = new Date();
  return rows.map((row) => toUserView(row, now));
}

/**
 * A disabled user cannot sign in, and findAccount stops finding them: their access tokens no
 * longer reach userinfo and their codes and refresh tokens are refused at the token endpoint.
 */
export async function setUserDisabled(prisma: Db, userId: string, disabled: boolean): Promise<UserView> {
  const id = parse(userIdSchema, userId, 'user id');
  const { count } = await prisma.user.updateMany({ where: { id }, data: { disabled } });
  if (count === 0) throw new UserError('not_found', `no user with id ${id}`);
  return requireUser(prisma, id);
}

const profilePatchSchema = z.strictObject({
  name: nameSchema.nullable().optional(),
  email_verified: z.boolean({ message: 'must be true or false' }).optional(),
});
export type UserProfilePatch = z.input<typeof profilePatchSchema>;

/** Changes what a person's claims say (name, email_verified); the email is their login and stays. */
export async function updateUserProfile(prisma: Db, userId: string, patch: UserProfilePatch): Promise<UserView> {
  const id = parse(userIdSchema, userId, 'user id');
  const changes = parse(profilePatchSchema, patch, 'user update');
  const { count } = await prisma.user.updateMany({
    where: { id },
    data: {
      ...(changes.name !== undefined ? { name: changes.name } : {}),
      ...(changes.email_verified !== undefined ? { emailVerified: changes.email_verified } : {}),
    },
  });
  if (count === 0) throw new UserError('not_found', `no user with id ${id}`);
  return requireUser(prisma, id);
}

/** Ends a lockout now and forgets the failed attempts that led to it. */
export async function unlockUser(prisma: Db, userId: string): Promise<UserView> {
  const id = parse(userIdSchema, userId, 'user id');
  const { count } = await prisma.user.updateMany({
    where: { id },
    data: { lockedUntil: null, failedLoginCount: 0, failedLoginChecked: 0, failedLoginStartAt: null },
  });
  if (count === 0) throw new UserError('not_found', `no user with id ${id}`);
  return requireUser(prisma, id);
}

async function requireUser(prisma: Db, id: string): Promise<UserView> {
  const user = await getUserById(prisma, id);
  if (!user) throw new UserError('not_found', `no user with id ${id}`);
  return user;
}
