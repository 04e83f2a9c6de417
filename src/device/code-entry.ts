// Brute-force protection of user-code entry (RFC 8628 §5.1: the code space is small, so the
// server must limit guesses).
//
// Every code submitted to the verification URI spends a point of two budgets: the client IP
// address's and the browser session's (oidc-provider's session cookie; a form post without one
// is refused by oidc-provider's own CSRF check before any code is looked up). The points are
// spent before the code is looked up, so that parallel requests cannot all slip through one
// check; an entry that turns out not to be a wrong code (a valid code, an empty field, an
// out-of-date form) gets its points back. Past either budget the code is not looked up at all
// and the page says how long to wait (429 with Retry-After). Wrong entries are audited by the
// entry page (pages.ts) as `device.code_invalid`; refused ones here.
//
// The counts live in the rate limiter's store, in memory like the login limit (src/http/rate-limit.ts).
import { createHash } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import type { AuditWriter } from '../audit/audit.js';
import { clientAddressKey, setRateLimitHeaders, type RateLimiter, type RateLimitResult } from '../http/rate-limit.js';
import { sendPage } from '../pages/pages.js';

export type CodeEntryLimiters = { perSession: RateLimiter; perIp: RateLimiter };

export type CodeEntryAttempt = {
  /** The tighter of the budgets once this attempt is counted. */
  limit: RateLimitResult;
  /** Set by the entry page when the code was wrong: then the attempt keeps counting. */
  wrong: boolean;
};

const ATTEMPT = Symbol('deviceCodeEntryAttempt');
const PREFILL = Symbol('deviceCodePrefill');
type EntryState = { [ATTEMPT]?: CodeEntryAttempt; [PREFILL]?: string };

/** Longer input is not a user code, and is not worth echoing back into the page. */
export const USER_CODE_INPUT_MAX = 64;

/** The code-entry attempt being handled in this request, if it is one. */
export function codeEntryAttempt(ctx: Context): CodeEntryAttempt | undefined {
  return (ctx.state as EntryState)[ATTEMPT];
}

/** The code that came in verification_uri_complete, to fill into the entry form. */
export function prefilledUserCode(ctx: Context): string | undefined {
  return (ctx.state as EntryState)[PREFILL];
}

/** The tighter of two results: refused wins, then fewer points left, then the later reset. */
function tighter(a: RateLimitResult, b: RateLimitResult): RateLimitResult {
  if (a.allowed !== b.allowed) return a.allowed ? b : a;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining ? a : b;
  return a.resetSeconds >= b.resetSeconds ? a : b;
}

function minutes(seconds: number): string {
  const m = Math.ceil(seconds / 60);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

export function waitMessage(limit: RateLimitResult): string {
  return `Too many incorrect codes were entered. Wait ${minutes(limit.resetSeconds)}, then enter the code again.`;
}

export type CodeEntryGuardDeps = {
  provider: Provider;
  limiters: CodeEntryLimiters;
  audit: AuditWriter;
};

/**
 * Runs in front of oidc-provider's verification URI (its `code_verification` route).
 *  - GET with `user_code` (verification_uri_complete, RFC 8628 §3.3.1): the code is taken out
 *    of the query and only filled into our entry form, so the person still submits it and then
 *    confirms; oidc-provider would instead post it onwards with a self-submitting script.
 *  - POST: the budgets described above.
 */
export function codeEntryGuard({ provider, limiters, audit }: CodeEntryGuardDeps): Middleware {
  const entryPath = provider.pathFor('code_verification', { mountPath: '' });
  // The page's own address as the browser sees it (the provider may be mounted below a path).
  const entryHref = `${new URL(provider.issuer).pathname.replace(/\/$/, '')}${entryPath}`;
  const sessionCookie = provider.cookieName('session');

  return async (ctx, next) => {
    // Other spellings of the path (`/DEVICE`, `/device/`) never get here: src/http/route-spelling.ts.
    if (ctx.path !== entryPath) return next() as Promise<void>;
    const state = ctx.state as EntryState;

    if (ctx.method === 'GET') {
      const query = new URLSearchParams(ctx.querystring);
      const typed = query.get('user_code');
      if (typed !== null) {
        if (typed.length <= USER_CODE_INPUT_MAX) state[PREFILL] = typed;
        query.delete('user_code');
        ctx.querystring = query.toString();
      }
      return next() as Promise<void>;
    }
    if (ctx.method !== 'POST') return next() as Promise<void>;

    // The session id is a bearer value: only its hash becomes a rate-limit key.
    const sessionId = ctx.cookies.get(sessionCookie, { signed: true });
    // The address as every other limit keys it (an IPv6 address by its /64).
    const budgets: [RateLimiter, string][] = [[limiters.perIp, `ip:${clientAddressKey(ctx.ip)}`]];
    if (sessionId) budgets.push([limiters.perSession, `session:${createHash('sha256').update(sessionId).digest('base64url')}`]);

    // A post without a live session cannot carry a valid form token (oidc-provider keeps it in
    // the session), and oidc-provider 9 answers it with a 500: its error handler writes a new
    // form token into the never-saved session, and saving that at the end of the request throws
    // ("persist can only be called on previously persisted Sessions"). Found by the reliability
    // suite's generated input: answer here instead, as for any out-of-date form.
    if (!sessionId || !(await provider.Session.find(sessionId))) {
      sendPage(
        ctx,
        'device-failed',
        { title: 'This page was out of date', message: 'Enter the code shown on your device again.', retry: entryHref, code: 'invalid_request' },
        { status: 400 },
      );
      return;
    }

    const results = await Promise.all(budgets.map(([limiter, key]) => limiter.consume(key)));
    const limit = results.reduce(tighter);
    const refundAll = () => Promise.all(budgets.map(([limiter, key]) => limiter.refund(key)));

    if (!limit.allowed) {
      // Nothing was looked up: give back what the allowing budget lent, then refuse.
      await Promise.all(budgets.filter((_, i) => results[i]!.allowed).map(([limiter, key]) => limiter.refund(key)));
      await audit({ type: 'device.code_invalid', outcome: 'failure', ip: ctx.ip, details: { reason: 'rate_limited' } });
      setRateLimitHeaders(ctx, limit);
      sendPage(
        ctx,
        'device-failed',
        { title: 'Please wait', message: waitMessage(limit), retry: entryHref, code: 'too_many_attempts' },
        { status: 429 },
      );
      return;
    }

    const attempt: CodeEntryAttempt = { limit, wrong: false };
    state[ATTEMPT] = attempt;
    try {
      await next();
    } finally {
      if (!attempt.wrong) await refundAll();
      else setRateLimitHeaders(ctx, attempt.limit);
    }
  };
}
