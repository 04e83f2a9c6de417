// Password reset (issue 20.2), plain HTML forms without script, each POST CSRF-protected
// (src/pages/page-csrf.ts) with a size-limited, zod-validated body:
//
//   GET  /password-reset           the form asking for the account's email ("Forgot password?")
//   POST /password-reset           the same answer for every address; the link is emailed
//   GET  /password-reset/confirm   ?token=…: the new-password form (the token is never in a path:
//                                  paths are logged, query strings are not)
//   POST /password-reset/confirm   sets the password
import Router from '@koa/router';
import { PASSWORD_RESET_PATH } from '../http/endpoints.js';
import { friendlyFormErrors } from '../sign-in/form.js';
import { showPasswordResetForm, submitPasswordReset } from './complete.js';
import type { PasswordResetDeps } from './deps.js';
import { showPasswordResetRequest, submitPasswordResetRequest } from './request.js';

export function passwordResetRoutes(deps: PasswordResetDeps): Router {
  const router = new Router({ prefix: PASSWORD_RESET_PATH });
  router.use(friendlyFormErrors);
  router.get('/', showPasswordResetRequest(deps));
  router.post('/', submitPasswordResetRequest(deps));
  router.get('/confirm', showPasswordResetForm(deps));
  router.post('/confirm', submitPasswordReset(deps));
  return router;
}
