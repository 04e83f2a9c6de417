// Email verification and email-change confirmation (issue 20.3):
//
//   GET  /email-verification/confirm   ?token=…: the page asking to confirm
//   POST /email-verification/confirm   confirms (CSRF-protected, zod-validated form)
import Router from '@koa/router';
import { EMAIL_VERIFICATION_PATH } from '../http/endpoints.js';
import { friendlyFormErrors } from '../sign-in/form.js';
import { showEmailConfirmation, submitEmailConfirmation } from './confirm.js';
import type { EmailVerificationDeps } from './deps.js';

export function emailVerificationRoutes(deps: EmailVerificationDeps): Router {
  const router = new Router({ prefix: EMAIL_VERIFICATION_PATH });
  router.use(friendlyFormErrors);
  router.get('/confirm', showEmailConfirmation(deps));
  router.post('/confirm', submitEmailConfirmation(deps));
  return router;
}
