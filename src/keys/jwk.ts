// JWK helpers for RSA signing keys.
import { createHash, generateKeyPair } from 'node:crypto';
import { promisify } from 'node:util';

export type RsaPrivateJwk = { kty: 'RSA'; n: string; e: string; d: string; p: string; q: string; dp: string; dq: string; qi: string };
export type PublicJwk = { kty: 'RSA'; n: string; e: string; kid: string; alg: 'RS256'; use: 'sig' };

/** RFC 7638 JWK thumbprint: stable, derived from the public key, so it makes a good kid. */
export function rsaThumbprint(jwk: { n: string; e: string }): string {
  return createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })).digest('base64url');
}

export async function generateRsaJwk(modulusLength = 2048): Promise<RsaPrivateJwk> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength, publicExponent: 0x10001 });
  return privateKey.export({ format: 'jwk' }) as RsaPrivateJwk;
}

/** Only the public members (RFC 7517 §9.3: never publish d, p, q, dp, dq, qi). */
export function publicPart(jwk: RsaPrivateJwk, kid: string): PublicJwk {
  return { kty: 'RSA', n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' };
}
