// User codes of the device flow (RFC 8628 §6.1): 8 characters from a 20-letter alphabet of
// consonants (no digits and no vowels: nothing like 0/O or 1/I to mix up, and no words), shown
// as XXXX-XXXX. 20^8 ≈ 2.6·10^10 codes (about 34 bits); with codes living minutes and wrong
// entries rate-limited (src/device/code-entry.ts) guessing a live one is hopeless.
// oidc-provider generates and looks them up; these helpers only word what a person typed.

/** oidc-provider's `base-20` charset; `features.deviceFlow.charset` names it. */
export const USER_CODE_CHARSET = 'base-20';
const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_MASK = '****-****';
const USER_CODE_LENGTH = 8;

/** What a person typed, the way oidc-provider compares it: upper case, only letters and digits. */
export function normalizeUserCode(typed: string): string {
  return typed.replace(/[a-z]/g, (c) => c.toUpperCase()).replace(/\W/g, '');
}

const WELL_FORMED = new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}$`);

/** Whether the typed text could be a user code at all (lower case, dash and spaces allowed). */
export function isWellFormedUserCode(typed: string): boolean {
  return WELL_FORMED.test(normalizeUserCode(typed));
}

/** XXXX-XXXX for a well-formed code; anything else comes back as typed, trimmed. */
export function displayUserCode(typed: string): string {
  const normalized = normalizeUserCode(typed);
  if (!WELL_FORMED.test(normalized)) return typed.trim();
  return `${normalized.slice(0, 4)}-${normalized.slice(4)}`;
}
