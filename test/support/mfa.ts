// Second-factor helpers for tests: TOTP codes computed here from the secret a page shows
// (RFC 6238, as an authenticator app would), and the pages of the second-factor step.
import { Secret, TOTP } from 'otpauth';
import * as oidc from 'openid-client';
import { expectPage, formWithAction, htmlUnescape, type Landing, type TestBrowser, type TestClient } from './signin.js';
import type { TestGatehouse } from './gatehouse.js';

export const MFA_ACR = 'urn:gatehouse:acr:mfa';

/** The base32 key shown on an enrolment page (grouped by four for reading). */
function secretOnPage(html: string): string {
  const match = /<code class="secret" id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(html);
  if (!match) throw new Error(`no TOTP key on the page:\n${html.slice(0, 1500)}`);
  return match[1]!.replace(/ /g, '');
}

const totpOf = (secret: string) => new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });

export function currentStep(): number {
  return Math.floor(Date.now() / 30_000);
}

/** The code of a given 30-second step. */
export function codeAt(secret: string, step: number): string {
  return totpOf(secret).generate({ timestamp: step * 30_000 });
}

/** A six-digit code that is none of the codes of the steps around now. */
export function wrongCode(secret: string): string {
  const near = new Set([-2, -1, 0, 1, 2].map((d) => codeAt(secret, currentStep() + d)));
  for (let n = 0; ; n++) {
    const candidate = String((123456 + n * 7919) % 1_000_000).padStart(6, '0');
    if (!near.has(candidate)) return candidate;
  }
}

/** Enrols an authenticator app on the enrolment page `landing` shows; returns its secret and the next page. */
export async function enrolTotp(browser: TestBrowser, landing: Landing, step = currentStep()): Promise<{ secret: string; next: Landing; step: number }> {
  const page = expectPage(landing);
  const secret = secretOnPage(page.html);
  const next = await browser.submit(formWithAction(page.html, '/mfa/enrol-totp'), { code: codeAt(secret, step) });
  return { secret, next, step };
}

/** The recovery codes a page shows. */
export function recoveryCodesOn(html: string): string[] {
  return [...html.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => htmlUnescape(m[1]!));
}

/** openid-client's view of the server, as a relying party would configure it (http allowed: tests). */
export async function relyingParty(gh: TestGatehouse, client: TestClient): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(gh.config.issuer), client.clientId, client.clientSecret, undefined, { execute: [oidc.allowInsecureRequests] });
}

/**
 * The callback checked and the code exchanged by openid-client, which validates the ID token
 * (signature, iss, aud, nonce, state, PKCE); returns the ID token's claims.
 */
export async function idTokenClaims(
  rp: oidc.Configuration,
  callback: URL,
  expected: { verifier: string; state: string; nonce: string; maxAge?: number },
): Promise<oidc.IDToken> {
  const tokens = await oidc.authorizationCodeGrant(rp, callback, {
    pkceCodeVerifier: expected.verifier,
    expectedState: expected.state,
    expectedNonce: expected.nonce,
    ...(expected.maxAge !== undefined ? { maxAge: expected.maxAge } : {}),
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  if (!claims) throw new Error('no ID token');
  return claims;
}
