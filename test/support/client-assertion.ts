// private_key_jwt client authentication: a key pair and signed client assertions.
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export type AssertionKey = { privateKey: CryptoKey; publicJwk: JWK; kid: string };

export async function assertionKey(alg: 'RS256' | 'ES256' = 'RS256'): Promise<AssertionKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { privateKey, publicJwk, kid };
}

/** A private_key_jwt client assertion (RFC 7523 §3); every claim can be overridden. */
export async function clientAssertion(
  key: AssertionKey,
  clientId: string,
  audience: string,
  overrides: { exp?: number; iat?: number; jti?: string; aud?: string; alg?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: overrides.alg ?? 'RS256', kid: key.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(overrides.aud ?? audience)
    .setIssuedAt(overrides.iat ?? now)
    .setExpirationTime(overrides.exp ?? now + 60)
    .setJti(overrides.jti ?? randomUUID())
    .sign(key.privateKey);
}

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
