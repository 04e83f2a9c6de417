// What the email-verification routes and senders work with, built once at start-up (src/gatehouse.ts).
import type { Mailer } from '../mail/mailer.js';
import type { FeatureDependencies } from '../oidc/feature.js';
import type { PageCsrf } from '../pages/page-csrf.js';

export type EmailVerificationDeps = FeatureDependencies & { mailer: Mailer; csrf: PageCsrf };
