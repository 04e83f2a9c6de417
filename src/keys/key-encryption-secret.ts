// Where the key-encryption secret comes from. Production: configuration only (config.ts
// refuses to start without it). Embedded mode: generated once into DATA_DIR with mode 0600,
// so `npm start` needs no setup; losing that file makes the stored keys unreadable, and
// start-up then stops instead of generating new keys.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SECRET_FILE_NAME = 'key-encryption-secret';

export function resolveKeyEncryptionSecret(configured: string | undefined, dataDir: string): { secret: string; generated: boolean } {
  if (configured) return { secret: configured, generated: false };
  const file = path.join(dataDir, SECRET_FILE_NAME);
  if (existsSync(file)) return { secret: readFileSync(file, 'utf8').trim(), generated: false };
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // `wx`: if another process created it first, fail rather than overwrite its secret.
  writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { secret: readFileSync(file, 'utf8').trim(), generated: true };
}
