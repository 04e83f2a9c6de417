// What the account page works with, built once at start-up (src/gatehouse.ts).
import type Provider from 'oidc-provider';
import type { PasswordHasher } from '../accounts/passwords.js';
import type { EmailVerificationDeps } from '../email-verification/deps.js';
import type { RateLimiter } from '../http/rate-limit.js';
import type { MailLimiters } from '../mail/mail-budget.js';

export type AccountPageDeps = EmailVerificationDeps & {
  /** The provider serving now (rebuilt when signing keys change). */
  provider: () => Provider;
  hasher: PasswordHasher;
  mailLimiters: MailLimiters;
  /** Wrong current passwords, counted with failed sign-ins per IP address and account (login-ip-account). */
  passwordLimiter: RateLimiter;
};
