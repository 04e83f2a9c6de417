// CSRF tokens for the interaction forms: another site must not submit them in the person's browser.
//
// Design: a synchronizer token derived, not stored. token = HMAC-SHA256(k, form || uid) where
// uid is the interaction the form belongs to and k is derived from the provider's cookie-signing
// keys (shared by every instance through the database, rotated with them: every current key is
// accepted). A token is therefore valid only for one interaction and one form, cannot be forged
// without the server key, and needs no storage. It backs up the other two bindings a POST must
// satisfy: the interaction cookie (signed, HttpOnly, SameSite=Lax, so a cross-site POST does
// not carry it) must name the same interaction as the URL.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The forms of sign-in, and those of features that extend it (src/mfa: `mfa-…`, src/upstream). */
type CsrfForm = 'login' | 'consent' | 'abort' | 'device' | 'upstream-link' | `mfa-${string}`;

export type Csrf = {
  token(form: CsrfForm, interactionUid: string): string;
  verify(form: CsrfForm, interactionUid: string, presented: string | undefined): boolean;
};

export function createCsrf(cookieKeys: readonly string[]): Csrf {
  if (cookieKeys.length === 0) throw new Error('CSRF protection needs at least one cookie key');
  // Domain separation: these keys also sign cookies; the CSRF MAC never uses them directly.
  const keys = cookieKeys.map((key) => createHmac('sha256', key).update('gatehouse interaction csrf v1').digest());
  const mac = (key: Buffer, form: CsrfForm, uid: string) => createHmac('sha256', key).update(`${form}\0${uid}`).digest();

  return {
    token: (form, uid) => mac(keys[0]!, form, uid).toString('base64url'),
    verify(form, uid, presented) {
      if (!presented || presented.length > 100) return false;
      const given = Buffer.from(presented, 'base64url');
      let valid = false;
      for (const key of keys) {
        const expected = mac(key, form, uid);
        // Every key is tried, so the time taken does not say which one matched.
        if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
      }
      return valid;
    },
  };
}
