// The account page (issue 20.5), for the person signed in to Gatehouse in this browser:
//
//   GET  /account                            the page
//   POST /account/name | password | email    changes (current password asked for password and email)
//   POST /account/verify-email               sends a verification link
//   POST /account/sessions/sign-out          ends one of the person's other sessions
//   POST /account/sessions/sign-out-others   ends all but this one
//   POST /account/apps/revoke                removes an application's access (its grants and tokens)
//
// Second factors are managed under /account/security (their own routes); the page links there.
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { ACCOUNT_PATH } from '../http/endpoints.js';
import { CSRF_PAGE, sendErrorPage } from '../pages/pages.js';
import { friendlyFormErrors } from '../sign-in/form.js';
import { AccountCsrfRefused, changeEmail, changeName, changePassword, requestVerification, revokeApp, signOutOtherSessions, signOutSession, type AccountChange } from './changes.js';
import type { AccountPageDeps } from './deps.js';
import { renderAccountPage, sendSignedOut, signedInPerson } from './page.js';

const doneSchema = z.enum(['name', 'password', 'email', 'verify', 'signed-out', 'signed-out-others', 'revoked']);

function withPerson(deps: AccountPageDeps, change: AccountChange) {
  return async (ctx: Context) => {
    const person = await signedInPerson(ctx, deps);
    if (!person) return sendSignedOut(ctx);
    try {
      await change(ctx, deps, person);
    } catch (error) {
      if (error instanceof AccountCsrfRefused) return sendErrorPage(ctx, CSRF_PAGE);
      throw error;
    }
  };
}

export function accountRoutes(deps: AccountPageDeps): Router {
  const router = new Router({ prefix: ACCOUNT_PATH });
  router.use(friendlyFormErrors);
  router.get('/', async (ctx) => {
    const person = await signedInPerson(ctx, deps);
    if (!person) return sendSignedOut(ctx);
    const done = doneSchema.safeParse(ctx.query.done);
    await renderAccountPage(ctx, deps, person, done.success ? { done: done.data } : {});
  });
  router.post('/name', withPerson(deps, changeName));
  router.post('/password', withPerson(deps, changePassword));
  router.post('/email', withPerson(deps, changeEmail));
  router.post('/verify-email', withPerson(deps, requestVerification));
  router.post('/sessions/sign-out', withPerson(deps, signOutSession));
  router.post('/sessions/sign-out-others', withPerson(deps, signOutOtherSessions));
  router.post('/apps/revoke', withPerson(deps, revokeApp));
  return router;
}
