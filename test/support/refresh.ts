// Refresh-token flows for the refresh and reliability tests: a first refresh token from a real
// sign-in over HTTP (offline_access with prompt=consent), refresh and introspection requests, and
// the stored rows.
import type { TestGatehouse } from './gatehouse.js';
import { basicAuth, postForm, type OAuthResponse } from './oauth-http.js';
import { TestBrowser, authorizeAndSignIn, exchangeCode, tokenRequest, type TestClient, type TokenResponse } from './signin.js';

export const OFFLINE_SCOPE = 'openid profile email offline_access';

export type SignedIn = {
  accessToken: string;
  refreshToken: string;
  grantId: string;
  scope: string;
  browser: TestBrowser;
};

/** Signs the person in to the client with offline_access (consented to) and exchanges the code. */
export async function signInOffline(gh: TestGatehouse, client: TestClient, email: string, scope = OFFLINE_SCOPE): Promise<SignedIn> {
  const browser = new TestBrowser(gh);
  // OpenID Connect Core §11: offline_access needs prompt=consent, or oidc-provider drops it.
  const { callback, verifier } = await authorizeAndSignIn(gh, browser, client, email, { scope, extra: { prompt: 'consent' } });
  if (!callback.code) throw new Error(`sign-in failed: ${callback.error ?? 'no code'} ${callback.errorDescription ?? ''}`);
  const tokens = await exchangeCode(gh, client, callback.code, verifier);
  if (tokens.status !== 200 || typeof tokens.body.refresh_token !== 'string') {
    throw new Error(`code exchange gave no refresh token: ${tokens.status} ${JSON.stringify(tokens.body)}`);
  }
  const refreshToken = tokens.body.refresh_token;
  const row = await gh.db.prisma.refreshToken.findUnique({ where: { id: refreshToken } });
  if (!row?.grantId) throw new Error('the refresh token is not stored with its grant');
  return { accessToken: tokens.body.access_token as string, refreshToken, grantId: row.grantId, scope: tokens.body.scope as string, browser };
}

export function refresh(gh: TestGatehouse, client: TestClient, refreshToken: string, scope?: string): Promise<TokenResponse> {
  return tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...(scope ? { scope } : {}) });
}

/** RFC 7662 introspection as the client itself (a confidential client: Basic authentication). */
export function introspect(gh: TestGatehouse, client: TestClient, token: string): Promise<OAuthResponse> {
  if (!client.clientSecret) throw new Error('introspection helper expects a confidential client');
  return postForm(`${gh.config.issuer}/token/introspection`, { token }, { authorization: basicAuth(client.clientId, client.clientSecret) });
}

/** Every stored refresh and access token of a grant, and the grant row itself. */
export async function storedGrant(gh: TestGatehouse, grantId: string) {
  const prisma = gh.db.prisma;
  const [grant, refreshTokens, accessTokens] = await Promise.all([
    prisma.grant.findUnique({ where: { id: grantId } }),
    prisma.refreshToken.findMany({ where: { grantId }, orderBy: { createdAt: 'asc' } }),
    prisma.accessToken.findMany({ where: { grantId } }),
  ]);
  return { grant, refreshTokens, accessTokens };
}

/** The stored payload of a refresh token (oidc-provider's claims: iat, exp, iiat, authTime, ...). */
export async function refreshPayload(gh: TestGatehouse, token: string): Promise<Record<string, unknown>> {
  const row = await gh.db.prisma.refreshToken.findUnique({ where: { id: token } });
  if (!row) throw new Error('refresh token not stored');
  return row.payload as Record<string, unknown>;
}

/** Waits until the wall clock is past an epoch-seconds instant (plus a small margin). */
export async function waitUntilPast(epochSeconds: number, marginMs = 150): Promise<void> {
  const wait = epochSeconds * 1000 + marginMs - Date.now();
  if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
}
