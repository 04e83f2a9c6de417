// Keys that sign oidc-provider's cookies (Koa keygrip). Persisted, sealed like signing keys,
// so a restart or another instance accepts the cookies this one set.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';
import { decryptSecret, encryptSecret, type KeyEncryptionKey } from './encryption.js';

/** Newest first: keygrip signs with the first key and verifies with all of them. */
export async function loadCookieKeys(prisma: Db, kek: KeyEncryptionKey): Promise<string[]> {
  let rows = await prisma.cookieKey.findMany({ orderBy: { createdAt: 'desc' } });
  if (rows.length === 0) {
    const id = randomUUID();
    await prisma.cookieKey.create({ data: { id, valueEnc: encryptSecret(kek, randomBytes(32).toString('base64url'), id) } });
    rows = await prisma.cookieKey.findMany({ orderBy: { createdAt: 'desc' } });
  }
  return rows.map((row) => decryptSecret(kek, row.valueEnc, row.id));
}
