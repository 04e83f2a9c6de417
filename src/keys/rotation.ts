// Signing-key rotation policy. A new key is published at once and signs only after a delay
// (relying parties cache JWKS; RFC 7517 §5 leaves rotation to kid matching, so the verifier must
// know a kid before it meets it). A superseded key stays published until every token it
// signed has expired, and only then may it be retired.
import { MAX_KEY_REFRESH_INTERVAL_SECONDS, MAX_TOKEN_TTL_SECONDS } from '../config.js';
import type { Db } from '../db/client.js';
import type { KeyEncryptionKey } from './encryption.js';
import { createSigningKey, keyState } from './signing-keys.js';

/**
 * How long after its successor became active a key's tokens may still verify. A server keeps
 * signing with it until its next key refresh, and a token lives at most the longest lifetime any
 * configuration allows. Bounds, not the lifetimes configured now: the process retiring a key
 * (the CLI) may not share the servers' environment, and an API's lifetime may have been
 * shortened after tokens were issued under the longer one.
 */
const SUPERSEDED_KEY_VALIDITY_SECONDS = MAX_KEY_REFRESH_INTERVAL_SECONDS + MAX_TOKEN_TTL_SECONDS;

export type RetirePolicy = { force: boolean };

export class KeyRotationError extends Error {
  override name = 'KeyRotationError';
  constructor(
    message: string,
    readonly code: 'not_found' | 'refused',
  ) {
    super(message);
  }
}

export async function rotateSigningKey(
  prisma: Db,
  kek: KeyEncryptionKey,
  activationDelaySeconds: number,
  now = new Date(),
): Promise<{ kid: string; activatesAt: Date }> {
  const activatesAt = new Date(now.getTime() + activationDelaySeconds * 1000);
  const kid = await createSigningKey(prisma, kek, activatesAt);
  return { kid, activatesAt };
}

/**
 * Retires a key: it leaves the JWKS, so tokens it signed stop verifying. Refused for the key
 * that signs now (there would be nothing to sign with) and, unless forced, while tokens it
 * signed may still be valid.
 */
export async function retireSigningKey(prisma: Db, kid: string, policy: RetirePolicy, now = new Date()): Promise<{ retiredAt: Date }> {
  const keys = await prisma.signingKey.findMany();
  const key = keys.find((k) => k.kid === kid);
  if (!key) throw new KeyRotationError(`no signing key with kid ${kid}`, 'not_found');
  const state = keyState(key, now);
  if (state === 'retired') throw new KeyRotationError(`key ${kid} is already retired`, 'refused');
  if (state === 'active') {
    // The key stopped signing when the next newer key became active.
    const successors = keys.filter((k) => k.kid !== kid && keyState(k, now) === 'active' && k.activatesAt >= key.activatesAt);
    if (successors.length === 0) {
      throw new KeyRotationError(`key ${kid} is the key that signs now: run \`keys rotate\` and retire it once the new key is active`, 'refused');
    }
    const supersededAt = Math.min(...successors.map((k) => k.activatesAt.getTime()));
    const lastValid = new Date(supersededAt + SUPERSEDED_KEY_VALIDITY_SECONDS * 1000);
    if (lastValid > now && !policy.force) {
      throw new KeyRotationError(
        `tokens signed by key ${kid} may be valid until ${lastValid.toISOString()}: retire it after that, or pass --force to cut them off now`,
        'refused',
      );
    }
  }
  await prisma.signingKey.update({ where: { kid }, data: { retiredAt: now } });
  return { retiredAt: now };
}
