// RS256 signing keys: created on first start, private part sealed at rest, loaded into the
// provider's keystore. A key is *published* (JWKS) from creation until retirement and *signs*
// only from `activatesAt`, so relying parties' JWKS caches learn a new key before it is used.
import type { Db } from '../db/client.js';
import { decryptSecret, encryptSecret, type KeyEncryptionKey } from './encryption.js';
import { generateRsaJwk, publicPart, rsaThumbprint, type RsaPrivateJwk } from './jwk.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { INITIAL_COOKIE_KEY_ID, newCookieKeyRow } from './cookie-keys.js';

const RSA_MODULUS_BITS = 2048;

export type SigningKeyState = 'pending' | 'active' | 'retired';

export type SigningKeyInfo = { kid: string; createdAt: Date; activatesAt: Date; retiredAt: Date | null; state: SigningKeyState };

/** What oidc-provider's `jwks` option receives: private JWKs, newest active first. */
export type ProviderJwk = RsaPrivateJwk & { kid: string; alg: 'RS256'; use?: 'sig'; key_ops?: ['verify'] };

export function keyState(key: { activatesAt: Date; retiredAt: Date | null }, now: Date): SigningKeyState {
  if (key.retiredAt && key.retiredAt <= now) return 'retired';
  return key.activatesAt <= now ? 'active' : 'pending';
}

/** A new key's row, private part sealed; not stored yet. */
export async function newSigningKeyRow(kek: KeyEncryptionKey, activatesAt = new Date(), generate = () => generateRsaJwk(RSA_MODULUS_BITS)) {
  // An operator types kids on command lines (`gatehouse keys retire <kid>`), where one starting
  // with "-" (1 thumbprint in 64, base64url) reads as an option: such a key is drawn again.
  let jwk = await generate();
  while (rsaThumbprint(jwk).startsWith('-')) jwk = await generate();
  const kid = rsaThumbprint(jwk);
  return { kid, alg: 'RS256', publicJwk: publicPart(jwk, kid), privateJwkEnc: encryptSecret(kek, JSON.stringify(jwk), kid), activatesAt };
}

export async function createSigningKey(prisma: Db, kek: KeyEncryptionKey, activatesAt = new Date()): Promise<string> {
  const data = await newSigningKeyRow(kek, activatesAt);
  await prisma.signingKey.create({ data });
  return data.kid;
}

export async function listSigningKeys(prisma: Db, now = new Date()): Promise<SigningKeyInfo[]> {
  const rows = await prisma.signingKey.findMany({ orderBy: { createdAt: 'desc' } });
  return rows.map((row) => ({
    kid: row.kid,
    createdAt: row.createdAt,
    activatesAt: row.activatesAt,
    retiredAt: row.retiredAt,
    state: keyState(row, now),
  }));
}

/**
 * First start: one signing key that signs at once and one cookie key. Later starts find them and
 * create nothing. Several instances may start at the same moment on an empty database, and each
 * would see no keys: so the first keys are created in one transaction together with the cookie
 * key of the fixed id INITIAL_COOKIE_KEY_ID. Only one such insert can commit (primary key); on
 * PostgreSQL a concurrent one waits for it and then fails with a unique violation, on SQLite the
 * second writer waits for the lock (busy timeout) and fails the same way. The loser's transaction
 * rolls back — its signing key included — and it reads the winner's keys like a later start.
 */
export async function ensureInitialKeys(prisma: Db, kek: KeyEncryptionKey): Promise<void> {
  // Read in this order, not in parallel: the first keys commit together, so once the cookie key
  // is seen, the signing key committed with it is visible to the next read. Read the other way
  // round (or in parallel), a start could see no signing key, then the winner's cookie key, and
  // take the "every signing key was retired" path below: a second signing key.
  const cookieKeys = await prisma.cookieKey.count();
  const usable = await prisma.signingKey.count({ where: { retiredAt: null } });
  if (usable > 0 && cookieKeys > 0) return;
  if (cookieKeys === 0) {
    const signingKey = usable === 0 ? await newSigningKeyRow(kek) : undefined;
    try {
      await prisma.$transaction([
        prisma.cookieKey.create({ data: newCookieKeyRow(kek, INITIAL_COOKIE_KEY_ID) }),
        ...(signingKey ? [prisma.signingKey.create({ data: signingKey })] : []),
      ]);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    return;
  }
  // Cookie keys exist but every signing key was retired: an operator's act, not a first start.
  await createSigningKey(prisma, kek);
}

/**
 * The keystore for oidc-provider: every published key, decrypted. Keys not yet active carry
 * `key_ops: ["verify"]`, which oidc-provider's key selection honours, so they never sign.
 * The newest active key comes first because the provider signs with the first match.
 * Throws KeyDecryptionError when the secret is wrong: keys are never silently regenerated.
 */
export async function loadProviderJwks(prisma: Db, kek: KeyEncryptionKey, now = new Date()): Promise<ProviderJwk[]> {
  const rows = await prisma.signingKey.findMany({
    where: { OR: [{ retiredAt: null }, { retiredAt: { gt: now } }] },
    orderBy: [{ activatesAt: 'desc' }, { createdAt: 'desc' }],
  });
  const active = rows.filter((row) => keyState(row, now) === 'active');
  const pending = rows.filter((row) => keyState(row, now) === 'pending');
  return [
    ...active.map((row): ProviderJwk => ({ ...decryptJwk(kek, row), kid: row.kid, alg: 'RS256', use: 'sig' })),
    ...pending.map((row): ProviderJwk => ({ ...decryptJwk(kek, row), kid: row.kid, alg: 'RS256', key_ops: ['verify'] })),
  ];
}

function decryptJwk(kek: KeyEncryptionKey, row: { kid: string; privateJwkEnc: string }): RsaPrivateJwk {
  return JSON.parse(decryptSecret(kek, row.privateJwkEnc, row.kid)) as RsaPrivateJwk;
}
