// A person's OpenID Connect claims (OpenID Connect Core §5.1) and the scopes that release them
// (§5.4). oidc-provider filters what `claimsOf` returns down to what the granted scopes and
// the `claims` request parameter allow, for ID tokens and userinfo alike.
import type { UserView } from './users.js';

/** Scope -> claims it releases. `openid` releases only `sub` (§5.4). */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  // updated_at is left out: the row's timestamp also moves on every sign-in (lockout
  // counters, last login), so it would not say when the profile changed.
  profile: ['name'],
  email: ['email', 'email_verified'],
} as const;

export type StandardClaims = {
  sub: string;
  name?: string;
  email: string;
  email_verified: boolean;
};

export function claimsOf(user: UserView): StandardClaims {
  return {
    sub: user.id,
    // §5.3.2: claims with no value are omitted, not returned as null.
    ...(user.name ? { name: user.name } : {}),
    email: user.email,
    email_verified: user.email_verified,
  };
}
