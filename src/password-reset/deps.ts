// What the password-reset routes work with, built once at start-up (src/gatehouse.ts).
import type { PasswordHasher } from '../accounts/passwords.js';
import type { MailLimiters } from '../mail/mail-budget.js';
import type { Mailer } from '../mail/mailer.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import type { PageCsrf } from '../pages/page-csrf.js';

export type PasswordResetDeps = FeatureDependencies & { mailer: Mailer; csrf: PageCsrf; hasher: PasswordHasher; mailLimiters: MailLimiters };
