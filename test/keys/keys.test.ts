// Signing keys persist across restarts, are sealed at rest, and a wrong secret stops start-up.
import { mkdtempSync, statSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { openDatabase } from '../../src/db/client.js';
import { createGatehouse } from '../../src/gatehouse.js';
import { KeyDecryptionError, decryptSecret, deriveKeyEncryptionKey } from '../../src/keys/encryption.js';
import { SECRET_FILE_NAME } from '../../src/keys/key-encryption-secret.js';
import { generateRsaJwk, rsaThumbprint, type RsaPrivateJwk } from '../../src/keys/jwk.js';
import { newSigningKeyRow } from '../../src/keys/signing-keys.js';
import { createLogger } from '../../src/logger.js';
import { freshDatabase, PROVIDERS } from '../support/databases.js';
import { startGatehouse, TEST_KEY_ENCRYPTION_SECRET, testConfig } from '../support/gatehouse.js';

async function jwksKids(url: string): Promise<string[]> {
  const { keys } = (await (await fetch(`${url}/jwks`)).json()) as { keys: { kid: string }[] };
  return keys.map((k) => k.kid);
}

describe.each(PROVIDERS)('signing keys on %s', (provider) => {
  test('a restart reuses the same key; the stored private key is sealed', async () => {
    const database = await freshDatabase(provider);
    try {
      const first = await startGatehouse(provider, {}, database);
      const kidsBefore = await jwksKids(first.url);
      await first.close();
      const second = await startGatehouse(provider, {}, database);
      expect(await jwksKids(second.url)).toEqual(kidsBefore);
      await second.close();

      const db = await openDatabase(database.url);
      const [row] = await db.prisma.signingKey.findMany();
      await db.close();
      expect(row).toBeDefined();
      // Ciphertext, not a JWK: no private member is readable without the secret.
      expect(row!.privateJwkEnc).toMatch(/^v1\./);
      expect(() => JSON.parse(row!.privateJwkEnc)).toThrow();
      expect(row!.privateJwkEnc).not.toContain('"d"');
      expect(() => decryptSecret(deriveKeyEncryptionKey('another-secret-of-at-least-32-chars!!'), row!.privateJwkEnc, row!.kid)).toThrow(KeyDecryptionError);
      const jwk = JSON.parse(decryptSecret(deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET), row!.privateJwkEnc, row!.kid)) as { d?: string };
      expect(typeof jwk.d).toBe('string');
    } finally {
      await database.drop();
    }
  });

  test('a wrong key-encryption secret stops start-up and generates no new key', async () => {
    const database = await freshDatabase(provider);
    try {
      const first = await startGatehouse(provider, {}, database);
      await first.close();
      const config = testConfig({ DATABASE_URL: database.url, KEY_ENCRYPTION_SECRET: 'a-different-secret-that-is-long-enough' });
      await expect(createGatehouse(config, createLogger('silent'))).rejects.toBeInstanceOf(KeyDecryptionError);
      const db = await openDatabase(database.url);
      expect(await db.prisma.signingKey.count()).toBe(1);
      await db.close();
    } finally {
      await database.drop();
    }
  });
});

test('embedded mode generates the key-encryption secret once, mode 0600, and reuses it', async () => {
  const dataDir = mkdtempSync(path.join(process.env.GATEHOUSE_TEST_RUN_DIR!, 'embedded-'));
  const database = await freshDatabase('sqlite');
  const env = { DATA_DIR: dataDir, KEY_ENCRYPTION_SECRET: '' };
  const first = await startGatehouse('sqlite', env, database);
  const kids = await jwksKids(first.url);
  await first.close();
  const file = path.join(dataDir, SECRET_FILE_NAME);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const secret = readFileSync(file, 'utf8');
  const second = await startGatehouse('sqlite', env, database);
  expect(await jwksKids(second.url)).toEqual(kids);
  await second.close();
  expect(readFileSync(file, 'utf8')).toBe(secret);
});

test('a key whose thumbprint starts with "-" is drawn again: kids are typed as CLI arguments', async () => {
  // Small keys make finding such a thumbprint (1 in 64) quick; the size does not matter here.
  let dashed: RsaPrivateJwk;
  do dashed = await generateRsaJwk(1024);
  while (!rsaThumbprint(dashed).startsWith('-'));
  let plain: RsaPrivateJwk;
  do plain = await generateRsaJwk(1024);
  while (rsaThumbprint(plain).startsWith('-'));
  const drawn = [dashed, plain];
  const row = await newSigningKeyRow(deriveKeyEncryptionKey(TEST_KEY_ENCRYPTION_SECRET), new Date(), async () => drawn.shift()!);
  expect(drawn).toEqual([]);
  expect(row.kid).toBe(rsaThumbprint(plain));
});
