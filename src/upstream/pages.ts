// What a person is told when signing in through an upstream does not work: a page that says what
// happened in their terms and what to do, never an upstream's own error text (it is not ours to
// vouch for, and it may carry anything). The reason code is shown as a reference for support.
import type { ErrorPage } from '../pages/pages.js';

/** The callback's state is unknown, used, expired, or was started in another browser. */
export const BAD_STATE_PAGE: ErrorPage = {
  status: 400,
  title: 'This sign-in link is not valid',
  message:
    'The answer from the identity provider does not belong to a sign-in started in this browser, was already used, or came too late. Go back to the application and start again.',
  code: 'upstream_bad_state',
};

export const NOT_AVAILABLE_PAGE: ErrorPage = {
  status: 404,
  title: 'This way of signing in is not available',
  message: 'The identity provider you chose is not offered here (any more). Go back and choose another way to sign in.',
  code: 'upstream_unknown',
};

export function failurePage(reason: string, upstreamName: string): ErrorPage {
  switch (reason) {
    case 'denied':
      return { status: 403, title: 'Sign-in cancelled', message: `${upstreamName} did not sign you in: the request was cancelled or refused there. You can try again or choose another way to sign in.`, code: 'upstream_denied' };
    case 'timeout':
      return { status: 504, title: `${upstreamName} did not answer in time`, message: `${upstreamName} took too long to answer. Try again in a moment, or choose another way to sign in.`, code: 'upstream_timeout' };
    case 'unreachable':
      return { status: 502, title: `${upstreamName} cannot be reached`, message: `Gatehouse could not reach ${upstreamName}. Try again later, or choose another way to sign in.`, code: 'upstream_down' };
    case 'upstream_error':
    case 'invalid_response':
      return { status: 502, title: `${upstreamName} answered with an error`, message: `The answer from ${upstreamName} could not be accepted, so you were not signed in. Try again, or choose another way to sign in.`, code: 'upstream_invalid_response' };
    case 'no_account':
      return { status: 403, title: 'No account for this identity', message: `You signed in at ${upstreamName}, but no account here belongs to that identity, and accounts are not created from ${upstreamName}. Ask your administrator, or choose another way to sign in.`, code: 'upstream_no_account' };
    case 'account_exists':
      return { status: 403, title: 'An account with this email already exists', message: `The email address ${upstreamName} gave belongs to an account here, and it cannot be linked to ${upstreamName} this way. Sign in the way you usually do for this account.`, code: 'upstream_account_exists' };
    case 'email_required':
      return { status: 403, title: 'An email address is needed', message: `${upstreamName} did not give an email address, and a new account needs one. Ask your administrator.`, code: 'upstream_email_required' };
    case 'account_disabled':
      return { status: 403, title: 'This account cannot sign in', message: 'The account this identity belongs to is disabled. Ask your administrator.', code: 'upstream_account_disabled' };
    case 'identity_linked_elsewhere':
      return { status: 409, title: 'This identity belongs to another account', message: `Your ${upstreamName} identity is already linked to a different account here.`, code: 'upstream_identity_conflict' };
    case 'disabled':
      return { ...NOT_AVAILABLE_PAGE };
    default:
      return { status: 409, title: 'Please try again', message: 'Signing in did not complete. Go back and try again.', code: 'upstream_try_again' };
  }
}
