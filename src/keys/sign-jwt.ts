// JWTs Gatehouse signs outside oidc-provider (back-channel logout tokens, security event
// tokens), with the key the provider signs with now: the newest active key (signing-keys.ts), so
// relying parties verify them against the same JWKS as ID tokens.
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import type { Db } from '../db/client.js';
import type { KeyEncryptionKey } from './encryption.js';
import { loadProviderJwks } from './signing-keys.js';

/** Signs `claims` (RS256, `kid` and the given `typ` in the header); `iat` is set here. */
export type JwtSigner = (claims: JWTPayload, typ: string) => Promise<string>;

export function currentKeySigner(prisma: Db, kek: KeyEncryptionKey): JwtSigner {
  return async (claims, typ) => {
    const signing = (await loadProviderJwks(prisma, kek)).find((jwk) => jwk.key_ops === undefined);
    if (!signing) throw new Error('no active signing key');
    const { kid, alg, use: _use, key_ops: _ops, ...material } = signing;
    const key = await importJWK({ ...material, alg }, alg);
    return new SignJWT(claims).setProtectedHeader({ alg, kid, typ }).setIssuedAt().sign(key);
  };
}
