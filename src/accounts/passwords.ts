// People's passwords: a length-first policy, argon2id hashing, and parameter upgrades.
//
// Policy (length is strength, composition rules breed patterns): at least 12 characters,
// at most 128, no composition rules, any Unicode. Passwords are NFKC-normalised before hashing
// and before verifying, so the same password typed on another keyboard or OS still matches,
// and length is counted in code points (an emoji is one character, not two UTF-16 units).
//
// Hashing: argon2id (RFC 9106: memory-hard against GPU guessing) with at least m=19 MiB, t=2, p=1.
// Stored hashes carry their parameters (PHC string format); a hash whose parameters are below
// the current ones is replaced on the next successful sign-in, when the password is at hand.
//
// Concurrency: each running hash holds its 19 MiB, and argon2 runs on libuv's thread pool (4
// threads), beside the token signatures. Sign-in's hashes and verifications therefore run at
// most PASSWORD_HASH_CONCURRENCY at once per process (default: the cores available); the rest
// queue. That bounds the memory a burst of sign-ins (or a flood of guesses) can take, and keeps
// pool threads free for signing.
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { argon2id, hash as argon2Hash, verify as argon2Verify } from 'argon2';
import { concurrencyLimit } from '../util/concurrency-limit.js';

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

export type Argon2Params = { memoryCost: number; timeCost: number; parallelism: number };

/** memoryCost is in KiB: 19 MiB; with t=2 each guess is costly, each sign-in still cheap. */
export const CURRENT_ARGON2_PARAMS: Readonly<Argon2Params> = Object.freeze({ memoryCost: 19 * 1024, timeCost: 2, parallelism: 1 });

function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/** Why `password` cannot be set, in words a person can act on; null when it can. */
export function passwordProblem(password: string): string | null {
  const length = [...normalizePassword(password)].length;
  if (length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters long`;
  if (length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters long`;
  if (normalizePassword(password).trim().length === 0) return 'must not be only spaces';
  return null;
}

export async function hashPassword(password: string, params: Argon2Params = CURRENT_ARGON2_PARAMS): Promise<string> {
  return argon2Hash(normalizePassword(password), { type: argon2id, ...params });
}

/** False for a wrong password and for a stored value that is not an argon2 hash at all. */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await argon2Verify(storedHash, normalizePassword(password));
  } catch {
    return false;
  }
}

const PHC = /^\$(argon2(?:id|i|d))\$v=(\d+)\$([a-z]=\d+(?:,[a-z]=\d+)*)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

/** The algorithm and parameters recorded in a stored hash, or null when it is not argon2. */
export function hashParameters(storedHash: string): ({ algorithm: string; version: number } & Argon2Params) | null {
  const match = PHC.exec(storedHash);
  if (!match) return null;
  const params = new Map(match[3]!.split(',').map((pair) => [pair[0]!, Number(pair.slice(2))] as const));
  const memoryCost = params.get('m');
  const timeCost = params.get('t');
  const parallelism = params.get('p');
  if (memoryCost === undefined || timeCost === undefined || parallelism === undefined) return null;
  return { algorithm: match[1]!, version: Number(match[2]), memoryCost, timeCost, parallelism };
}

/**
 * True when a stored hash should be replaced: not argon2id, an older argon2 version, or any
 * cost below the current one. Stronger stored parameters are kept (an operator may have raised
 * them for some accounts).
 */
export function needsRehash(storedHash: string, current: Argon2Params = CURRENT_ARGON2_PARAMS): boolean {
  const stored = hashParameters(storedHash);
  if (!stored || stored.algorithm !== 'argon2id' || stored.version < 0x13) return true;
  return stored.memoryCost < current.memoryCost || stored.timeCost < current.timeCost || stored.parallelism < current.parallelism;
}

/** The password operations sign-in needs, with the cost of a check for an unknown account. */
export type PasswordHasher = {
  hash(password: string): Promise<string>;
  verify(storedHash: string, password: string): Promise<boolean>;
  needsRehash(storedHash: string): boolean;
  /**
   * Verifies against the hash of a random password nobody knows: an unknown email then costs
   * what a wrong password costs, so response time does not reveal which emails have accounts.
   */
  verifyDummy(password: string): Promise<false>;
};

/**
 * Computes the dummy hash at once (at start-up), so the first unknown email is not faster.
 * `concurrency`: how many hashes and verifications run at once; the others wait in turn.
 */
export function createPasswordHasher(params: Argon2Params = CURRENT_ARGON2_PARAMS, concurrency = availableParallelism()): PasswordHasher {
  const limited = concurrencyLimit(concurrency);
  const dummyHash = limited(() => hashPassword(randomBytes(32).toString('base64url'), params));
  // An unhandled rejection here would be reported when verifyDummy awaits it.
  dummyHash.catch(() => undefined);
  return {
    hash: (password) => limited(() => hashPassword(password, params)),
    verify: (storedHash, password) => limited(() => verifyPassword(storedHash, password)),
    needsRehash: (storedHash) => needsRehash(storedHash, params),
    async verifyDummy(password) {
      const stored = await dummyHash;
      await limited(() => verifyPassword(stored, password));
      return false;
    },
  };
}
