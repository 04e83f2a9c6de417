// CSRF tokens for our forms outside sign-in interactions (password reset, email verification,
// sign-up, the account page): another site must not submit them in the person's browser.
//
// The same derived synchronizer token as the interaction forms (src/sign-in/csrf.ts), bound to
// something only this browser holds instead of an interaction: the signed-in session's id on
// the account page, or a random value in a cookie of its own (signed, HttpOnly, SameSite=Lax)
// on the pages anyone may open. token = HMAC-SHA256(k, form || binding), k derived from the
// cookie keys with its own label, every current key accepted.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';

export type PageCsrf = {
  token(form: string, binding: string): string;
  verify(form: string, binding: string, presented: string | undefined): boolean;
};

export function createPageCsrf(cookieKeys: readonly string[]): PageCsrf {
  if (cookieKeys.length === 0) throw new Error('CSRF protection needs at least one cookie key');
  const keys = cookieKeys.map((key) => createHmac('sha256', key).update('gatehouse page csrf v1').digest());
  const mac = (key: Buffer, form: string, binding: string) => createHmac('sha256', key).update(`${form}\0${binding}`).digest();
  return {
    token: (form, binding) => mac(keys[0]!, form, binding).toString('base64url'),
    verify(form, binding, presented) {
      if (!presented || presented.length > 100 || !binding) return false;
      const given = Buffer.from(presented, 'base64url');
      let valid = false;
      for (const key of keys) {
        const expected = mac(key, form, binding);
        if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
      }
      return valid;
    },
  };
}

const BROWSER_COOKIE = 'gatehouse.form';
const BINDING_SHAPE = /^[A-Za-z0-9_-]{22,64}$/;

/** This browser's form binding, from its signed cookie; made and set when missing (pages that show a form). */
export function browserBinding(ctx: Context, create: boolean): string {
  const existing = ctx.cookies.get(BROWSER_COOKIE, { signed: true });
  if (existing && BINDING_SHAPE.test(existing)) return existing;
  if (!create) return '';
  const value = randomBytes(18).toString('base64url');
  ctx.cookies.set(BROWSER_COOKIE, value, { signed: true, httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', overwrite: true });
  return value;
}
