// Keys that sign oidc-provider's cookies (Koa keygrip). Persisted, sealed like signing keys,
// so a restart or another instance accepts the cookies this one set.
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/client.js';
import { decryptSecret, encryptSecret, type KeyEncryptionKey } from './encryption.js';
import { isUniqueViolation } from '../db/unique-violation.js';

/**
 * The id of the first cookie key. Fixed, so that instances starting together on an empty
 * database cannot each create one: the second insert of this id fails (see ensureInitialKeys).
 */
export const INITIAL_COOKIE_KEY_ID = 'initial';

export function newCookieKeyRow(kek: KeyEncryptionKey, id: string) {
  return { id, valueEnc: encryptSecret(kek, randomBytes(32).toString('base64url'), id) };
}

/** Newest first: keygrip signs with the first key and verifies with all of them. */
export async function loadCookieKeys(prisma: Db, kek: KeyEncryptionKey): Promise<string[]> {
  let rows = await prisma.cookieKey.findMany({ orderBy: { createdAt: 'desc' } });
  if (rows.length === 0) {
    // Normally made by ensureInitialKeys; the fixed id keeps a concurrent start from adding a second.
    await prisma.cookieKey.create({ data: newCookieKeyRow(kek, INITIAL_COOKIE_KEY_ID) }).catch((error: unknown) => {
      if (!isUniqueViolation(error)) throw error;
    });
    rows = await prisma.cookieKey.findMany({ orderBy: { createdAt: 'desc' } });
  }
  return rows.map((row) => decryptSecret(kek, row.valueEnc, row.id));
}
