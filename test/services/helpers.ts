// Helpers for the services tests: OAuth requests over HTTP, client assertions, audit polling.
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import type { Db } from '../../src/db/client.js';
import type { TestGatehouse } from '../support/gatehouse.js';

export type OAuthResponse = { status: number; headers: Headers; body: Record<string, unknown> };

/** RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Basic encoding. */
export function basicAuth(clientId: string, secret: string): string {
  const enc = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}

export async function postForm(
  url: string,
  form: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<OAuthResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  if (text) {
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text };
    }
  }
  return { status: res.status, headers: res.headers, body };
}

export function endpoints(gh: TestGatehouse) {
  const issuer = gh.config.issuer;
  return {
    token: `${issuer}/token`,
    introspection: `${issuer}/token/introspection`,
    revocation: `${issuer}/token/revocation`,
    jwks: `${issuer}/jwks`,
  };
}

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

/**
 * Audit rows are written after the response (provider events); wait for the one expected.
 * Polls briefly; the assertion is on the row's content, never on timing.
 */
export async function auditEvents(prisma: Db, type: string, clientId: string | null, atLeast = 1) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const rows = await prisma.auditEvent.findMany({ where: { type, clientId }, orderBy: { at: 'asc' } });
    if (rows.length >= atLeast) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
  return prisma.auditEvent.findMany({ where: { type, clientId }, orderBy: { at: 'asc' } });
}

/**
 * Tokens a person's sign-in would leave behind (grant, refresh token, opaque userinfo access
 * token), created through oidc-provider's own models in the running instance and stored through
 * the real adapter: the services tests need stored tokens before the sign-in flow exists.
 */
export async function mintUserTokens(gh: TestGatehouse, clientId: string, accountId = `acct-${randomUUID()}`) {
  const provider = gh.provider();
  const client = await provider.Client.find(clientId);
  if (!client) throw new Error(`client ${clientId} is not loadable by the provider`);
  const grant = new provider.Grant({ accountId, clientId });
  grant.addOIDCScope('openid offline_access');
  const grantId = await grant.save();
  const refreshToken = await new provider.RefreshToken({
    client,
    accountId,
    grantId,
    scope: 'openid offline_access',
    gty: 'authorization_code',
  }).save();
  const accessToken = await new provider.AccessToken({ client, accountId, grantId, scope: 'openid', gty: 'authorization_code' }).save();
  return { accountId, grantId, refreshToken, accessToken };
}
