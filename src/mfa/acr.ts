// Authentication context classes (OpenID Connect Core §2 `acr`) and methods (RFC 8176 `amr`).
// Two levels, published as acr_values_supported: one factor (a password, or an upstream
// login alone) and several factors. A client asks for the second with acr_values (Core §3.1.2.1)
// and checks it in the ID token's `acr`; the `amr` says which methods were used.

/** One factor: a password, or another login path (an upstream identity provider) alone. */
export const SINGLE_FACTOR_ACR = 'urn:gatehouse:acr:single-factor';
/** Two factors: a password (or upstream login) and a TOTP code, a passkey or a recovery code; or a passkey with user verification alone. */
export const MFA_ACR = 'urn:gatehouse:acr:mfa';

export const ACR_VALUES = [SINGLE_FACTOR_ACR, MFA_ACR] as const;

/** RFC 8176 §2 values Gatehouse uses for its factors. */
export type SecondFactorMethod = 'otp' | 'hwk' | 'swk';

/** The amr of a login completed with a second factor: what came before, the factor, and `mfa`. */
export function withSecondFactor(amr: readonly string[], method: SecondFactorMethod): string[] {
  return [...new Set([...amr, method, 'mfa'])];
}

/** The acr a set of methods reaches. */
export function acrOf(amr: readonly string[]): string {
  return amr.includes('mfa') ? MFA_ACR : SINGLE_FACTOR_ACR;
}
