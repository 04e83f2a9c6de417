// Private key material at rest: AES-256-GCM under a key-encryption key (KEK) derived from
// KEY_ENCRYPTION_SECRET with HKDF-SHA256. The row's id is bound as associated data, so a
// ciphertext copied onto another row does not decrypt.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const KEK_INFO = 'gatehouse key-encryption key v1';

export type KeyEncryptionKey = { readonly key: Buffer };

export class KeyDecryptionError extends Error {
  constructor() {
    super('KEY_ENCRYPTION_SECRET does not decrypt the stored keys (wrong secret, or the data was altered)');
    this.name = 'KeyDecryptionError';
  }
}

export function deriveKeyEncryptionKey(secret: string): KeyEncryptionKey {
  return { key: Buffer.from(hkdfSync('sha256', secret, 'gatehouse', KEK_INFO, 32)) };
}

/** Returns `v1.<iv>.<tag>.<ciphertext>`, all base64url. */
export function encryptSecret(kek: KeyEncryptionKey, plaintext: string, associatedData: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek.key, iv);
  cipher.setAAD(Buffer.from(associatedData));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), ciphertext].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
}

export function decryptSecret(kek: KeyEncryptionKey, sealed: string, associatedData: string): string {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || ciphertext === undefined) throw new KeyDecryptionError();
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new KeyDecryptionError();
  }
}
