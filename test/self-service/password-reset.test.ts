// Password reset against a real SMTP server (test/support/smtp.ts): "Forgot password?" on the
// login page, the emailed link, the new password, and back to the sign-in that was under way.
// The same answer for unknown addresses; expired, reused, foreign and voided links refused;
// sessions and refresh tokens revoked and the lockout cleared; budgets per address; retries.
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { PROVIDERS } from '../support/databases.js';
import {
  auditRows,
  authorizationUrl,
  authorizeAndSignIn,
  callbackOf,
  consent,
  exchangeCode,
  expectPage,
  formWithAction,
  htmlUnescape,
  PASSWORD,
  pkcePair,
  randomToken,
  registerClient,
  registerUser,
  signIn,
  TestBrowser,
  tokenRequest,
  type Landing,
} from '../support/signin.js';
import { linkIn, startSmtp, type TestSmtp } from '../support/smtp.js';
import { setPassword } from '../../src/accounts/users.js';
import { createApi } from '../../src/clients/apis.js';
import { introspect } from '../support/refresh.js';

const NEW_PASSWORD = 'a brand new password for this account';

/** The href of the link with this text on a page. */
function hrefOf(html: string, text: string): string {
  const match = new RegExp(`<a[^>]*href="([^"]*)"[^>]*>\\s*${text.replace(/[?]/g, '\\?')}\\s*</a>`).exec(html);
  if (!match) throw new Error(`no link "${text}" on the page:\n${html.slice(0, 3000)}`);
  return htmlUnescape(match[1]!);
}

describe.each(PROVIDERS)('password reset on %s', (provider) => {
  let smtp: TestSmtp;
  let gh: TestGatehouse;
  beforeAll(async () => {
    smtp = await startSmtp();
    gh = await startGatehouse(provider, { SMTP_URL: smtp.url, MAIL_FROM: 'Gatehouse <auth@example.com>', MAIL_ACCOUNT_LIMIT: '3' });
  });
  afterAll(async () => {
    await gh?.close();
    await smtp?.close();
  });

  /** Opens the reset form from a login page, as a person would, and asks for a link for `email`. */
  async function askForLink(browser: TestBrowser, loginPage: Landing, email: string) {
    const page = expectPage(loginPage);
    const form = expectPage(await browser.get(new URL(hrefOf(page.html, 'Forgot password?'), gh.config.issuer)));
    expect(form.html).toContain('Reset your password');
    return expectPage(await browser.submit(formWithAction(form.html, '/password-reset'), { email }));
  }

  async function loginPage(browser: TestBrowser, client: Awaited<ReturnType<typeof registerClient>>) {
    return expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge, scope: 'openid email offline_access', extra: { prompt: 'consent' } })));
  }

  test('the emailed link sets a new password, and the sign-in under way continues with it', async () => {
    const client = await registerClient(gh, { grant_types: ['authorization_code', 'refresh_token'] });
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const { verifier, challenge } = pkcePair();
    const login = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge })));
    const sent = await askForLink(browser, login, user.email.toUpperCase());
    expect(sent.status).toBe(200);
    expect(sent.html).toContain('Check your email');

    const mail = await smtp.nextTo(user.email);
    expect(mail.subject).toBe('Reset your Gatehouse password');
    expect(mail.parsed.from?.text).toContain('auth@example.com');
    const link = linkIn(mail, '/password-reset/confirm');
    expect(link.origin).toBe(new URL(gh.config.issuer).origin);
    expect(link.searchParams.get('token')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // Only the hash is stored.
    expect(JSON.stringify(await gh.db.prisma.accountToken.findMany())).not.toContain(link.searchParams.get('token'));

    const form = expectPage(await browser.get(link));
    expect(form.html).toContain(user.email);
    const done = expectPage(await browser.submit(formWithAction(form.html, '/password-reset/confirm'), { password: NEW_PASSWORD }));
    expect(done.html).toContain('Your password is changed');

    // Back to the sign-in that was under way: the old password fails, the new one works.
    const again = expectPage(await browser.get(new URL(hrefOf(done.html, 'Continue to sign in'), gh.config.issuer)));
    expect(expectPage(await signIn(browser, again, user.email, PASSWORD)).status).toBe(400);
    const retry = expectPage(await browser.get(new URL(hrefOf(done.html, 'Continue to sign in'), gh.config.issuer)));
    let landing = await signIn(browser, retry, user.email, NEW_PASSWORD);
    if (landing.kind === 'page' && landing.html.includes('/consent"')) landing = await consent(browser, landing);
    const callback = callbackOf(landing, client);
    expect((await exchangeCode(gh, client, callback.code!, verifier)).status).toBe(200);

    expect(await auditRows(gh, 'password_reset.requested', { subject: user.id })).toHaveLength(1);
    const [completed] = await auditRows(gh, 'password_reset.completed', { subject: user.id });
    expect(completed).toMatchObject({ outcome: 'success' });
  });

  test('an unknown address gets the same answer, and no message', async () => {
    const user = await registerUser(gh);
    const client = await registerClient(gh);
    const unknown = `nobody-${randomToken().toLowerCase()}@example.com`;
    const browser = new TestBrowser(gh);
    const known = await askForLink(browser, await loginPage(browser, client), user.email);
    const stranger = await askForLink(browser, await loginPage(browser, client), unknown);
    expect(stranger.status).toBe(known.status);
    // The same page, byte for byte, once the interaction it links back to is set aside.
    const bare = (html: string) => html.replace(/\/interaction\/[A-Za-z0-9_-]+/g, '/interaction/…');
    expect(bare(stranger.html)).toBe(bare(known.html));
    await smtp.nextTo(user.email);
    const [refusal] = await auditRows(gh, 'password_reset.requested', { subject: null });
    expect(refusal?.details).toMatchObject({ reason: 'unknown_email' });
    expect(smtp.countTo(unknown)).toBe(0);
  });

  test('a link works once, not after it expires, not after a password change, and only for resets', async () => {
    const client = await registerClient(gh);
    const browser = new TestBrowser(gh);
    const linkFor = async (email: string) => {
      await askForLink(browser, await loginPage(browser, client), email);
      return linkIn(await smtp.nextTo(email), '/password-reset/confirm');
    };

    // Used once, then refused.
    const reused = await registerUser(gh);
    const first = await linkFor(reused.email);
    const form = expectPage(await browser.get(first));
    const submit = formWithAction(form.html, '/password-reset/confirm');
    expect(expectPage(await browser.submit(submit, { password: NEW_PASSWORD })).status).toBe(200);
    const replay = expectPage(await browser.submit(submit, { password: `${NEW_PASSWORD} again` }));
    expect(replay.status).toBe(400);
    expect(replay.html).toContain('This link cannot be used');
    expect(expectPage(await browser.get(first)).status).toBe(400);
    const [refused] = await auditRows(gh, 'password_reset.refused', { subject: reused.id });
    expect(refused?.details).toMatchObject({ reason: 'used' });

    // Expired.
    const late = await registerUser(gh);
    const expired = await linkFor(late.email);
    const lateForm = formWithAction(expectPage(await browser.get(expired)).html, '/password-reset/confirm');
    await gh.db.prisma.accountToken.updateMany({ where: { userId: late.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const tooLate = expectPage(await browser.submit(lateForm, { password: NEW_PASSWORD }));
    expect([tooLate.status, tooLate.html.includes('This link has expired')]).toEqual([400, true]);

    // Voided by a password change made after the link was sent.
    const changed = await registerUser(gh);
    const stale = await linkFor(changed.email);
    await setPassword(gh.db.prisma, changed.id, 'an operator set this password');
    expect(expectPage(await browser.get(stale)).status).toBe(400);

    // A newer link voids nothing by itself, but a reset voids every other reset link.
    const twice = await registerUser(gh);
    const older = await linkFor(twice.email);
    const newer = await linkFor(twice.email);
    expect(expectPage(await browser.submit(formWithAction(expectPage(await browser.get(newer)).html, '/password-reset/confirm'), { password: NEW_PASSWORD })).status).toBe(200);
    expect(expectPage(await browser.get(older)).status).toBe(400);

    // Foreign: a made-up token, and a reset token shown to the email confirmation.
    const madeUp = new URL(first);
    madeUp.searchParams.set('token', randomToken() + randomToken() + randomToken().slice(0, 11));
    expect(expectPage(await browser.get(madeUp)).status).toBe(400);
    const other = await registerUser(gh);
    const resetLink = await linkFor(other.email);
    const asVerification = new URL('/email-verification/confirm', resetLink);
    asVerification.search = resetLink.search;
    expect(expectPage(await browser.get(asVerification)).status).toBe(400);
    // It still works where it belongs.
    expect(expectPage(await browser.get(resetLink)).status).toBe(200);
  });

  test('a policy-breaking password is refused without spending the link', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    await askForLink(browser, await loginPage(browser, client), user.email);
    const link = linkIn(await smtp.nextTo(user.email), '/password-reset/confirm');
    const submit = formWithAction(expectPage(await browser.get(link)).html, '/password-reset/confirm');
    const weak = expectPage(await browser.submit(submit, { password: 'short' }));
    expect([weak.status, weak.html.includes('at least 12 characters')]).toEqual([400, true]);
    expect(expectPage(await browser.submit(submit, { password: NEW_PASSWORD })).status).toBe(200);
  });

  test('a reset ends the sessions, revokes refresh tokens and JWT access tokens, and clears the lockout', async () => {
    // An API, so the access token is a JWT (RFC 9068) of an offline grant: a grant that outlives
    // the sessions a reset ends, whose access tokens must not outlive the reset either.
    const api = `https://api.example.com/notes-${randomToken().slice(0, 8)}`;
    await createApi(gh.db.prisma, { identifier: api, name: 'Notes', scopes: ['notes:read'] });
    const client = await registerClient(gh, { grant_types: ['authorization_code', 'refresh_token'], apis: [{ identifier: api, scopes: ['notes:read'] }], default_api: api });
    const user = await registerUser(gh);
    const signedIn = new TestBrowser(gh);
    const { callback, verifier } = await authorizeAndSignIn(gh, signedIn, client, user.email, { scope: 'openid offline_access notes:read', extra: { prompt: 'consent' } });
    const tokens = await exchangeCode(gh, client, callback.code!, verifier);
    expect(typeof tokens.body.refresh_token).toBe('string');
    const accessToken = tokens.body.access_token as string;
    expect(accessToken.split('.')).toHaveLength(3);
    expect((await introspect(gh, client, accessToken)).body).toMatchObject({ active: true, sub: user.id });
    expect(await gh.db.prisma.session.count({ where: { accountId: user.id } })).toBe(1);

    // Locked by wrong passwords.
    for (let i = 0; i < gh.config.lockout.threshold; i++) {
      const b = new TestBrowser(gh);
      await signIn(b, await loginPage(b, client), user.email, `wrong password number ${i}`);
    }
    expect((await gh.db.prisma.user.findUnique({ where: { id: user.id } }))?.lockedUntil).not.toBeNull();

    const browser = new TestBrowser(gh);
    await askForLink(browser, await loginPage(browser, client), user.email);
    const link = linkIn(await smtp.nextTo(user.email), '/password-reset/confirm');
    expect(expectPage(await browser.submit(formWithAction(expectPage(await browser.get(link)).html, '/password-reset/confirm'), { password: NEW_PASSWORD })).status).toBe(200);

    expect((await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token as string })).body).toMatchObject({ error: 'invalid_grant' });
    expect((await introspect(gh, client, accessToken)).body).toEqual({ active: false });
    expect(await gh.db.prisma.session.count({ where: { accountId: user.id } })).toBe(0);
    // The old session's browser is asked to sign in again, and the new password works at once.
    const relogin = await signedIn.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge }));
    expect(expectPage(relogin).html).toContain('/login"');
    const landing = await signIn(signedIn, relogin, user.email, NEW_PASSWORD);
    expect(landing.kind === 'redirect' || (landing.kind === 'page' && landing.html.includes('/consent"'))).toBe(true);
    const [ended] = await auditRows(gh, 'session.ended', { subject: user.id });
    expect(ended?.details).toMatchObject({ reason: 'password_reset', sessions: 1 });
  });

  test('an address gets at most MAIL_ACCOUNT_LIMIT messages per window, with the same answer after', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    const answers: string[] = [];
    for (let i = 0; i < 5; i++) {
      const browser = new TestBrowser(gh);
      const page = await askForLink(browser, await loginPage(browser, client), user.email);
      answers.push(`${page.status} ${page.html.includes('Check your email')}`);
    }
    expect(new Set(answers)).toEqual(new Set(['200 true']));
    for (let i = 0; i < 3; i++) await smtp.nextTo(user.email);
    const limited = await auditRows(gh, 'password_reset.requested', {}, 2);
    expect(limited.filter((row) => (row.details as { reason?: string } | null)?.reason === 'rate_limited').length).toBeGreaterThanOrEqual(2);
    expect(smtp.countTo(user.email)).toBe(3);
  });

  test('a temporary SMTP failure is retried after the answer, which does not wait for it', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    smtp.refuseNext(1);
    const browser = new TestBrowser(gh);
    const page = await askForLink(browser, await loginPage(browser, client), user.email);
    expect(page.status).toBe(200);
    // The answer came before any delivery succeeded; the retry delivers it.
    expect(smtp.countTo(user.email)).toBe(0);
    const mail = await smtp.nextTo(user.email);
    expect(smtp.refusedCount()).toBe(1);
    expect(linkIn(mail, '/password-reset/confirm').searchParams.get('token')).toBeTruthy();
  });

  test('past MAIL_IP_LIMIT from one address: 429 and the form again, with RateLimit headers', async () => {
    const client = await registerClient(gh);
    let refused: Landing | undefined;
    for (let i = 0; i < gh.config.rateLimits['mail-ip'].points + 1 && !refused; i++) {
      const browser = new TestBrowser(gh);
      const page = await askForLink(browser, await loginPage(browser, client), `someone-${i}-${randomToken().toLowerCase()}@example.com`);
      if (page.status === 429) refused = page;
      else expect(page.status).toBe(200);
    }
    const page = expectPage(refused!);
    expect(page.html).toContain('Too many requests from your network');
    expect(page.headers.get('ratelimit-remaining')).toBe('0');
  });

  test('bad input gets a friendly page, never a 500', async () => {
    const post = (path: string, body: string, type = 'application/x-www-form-urlencoded') =>
      fetch(`${gh.config.issuer}${path}`, { method: 'POST', headers: { 'content-type': type, accept: 'text/html' }, body });
    for (const path of ['/password-reset', '/password-reset/confirm', '/email-verification/confirm', '/account/name']) {
      const statuses = [
        (await post(path, '{"email":"x"}', 'application/json')).status,
        (await post(path, 'email=a&email=b&token=t&token=u')).status,
        (await post(path, `email=${'x'.repeat(10_000)}`)).status,
        (await post(path, 'unexpected=1&token=%ZZ')).status,
      ];
      for (const status of statuses) expect([path, status >= 400 && status < 500]).toEqual([path, true]);
    }
    for (const query of ['', '?token=', '?token=%00', `?token=${'a'.repeat(300)}`, '?token=a&token=b&interaction=../../x']) {
      const res = await fetch(`${gh.config.issuer}/password-reset/confirm${query}`, { headers: { accept: 'text/html' } });
      // A NUL is refused before any handler (src/http/control-characters.ts); the rest reach the page.
      expect([query, res.status, (await res.text()).includes(query.includes('%00') ? 'That did not work' : 'This link cannot be used')]).toEqual([query, 400, true]);
    }
  });

  test('the forms refuse a post without their CSRF token', async () => {
    const res = await fetch(`${gh.config.issuer}/password-reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ email: 'someone@example.com' }).toString(),
    });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('csrf_check_failed');
  });
});

describe.each(PROVIDERS)('password reset with the mail server down on %s', (provider) => {
  let gh: TestGatehouse;
  beforeAll(async () => {
    // A port nobody listens on: every attempt is refused at once.
    const closed = await startSmtp();
    const url = closed.url;
    await closed.close();
    gh = await startGatehouse(provider, { SMTP_URL: url });
  });
  afterAll(async () => {
    await gh?.close();
  });

  test('the page answers at once; after the retries the failure is logged and audited, never shown', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const login = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
    const form = expectPage(await browser.get(new URL(hrefOf(login.html, 'Forgot password?'), gh.config.issuer)));
    const answer = expectPage(await browser.submit(formWithAction(form.html, '/password-reset'), { email: user.email }));
    expect([answer.status, answer.html.includes('Check your email')]).toEqual([200, true]);
    // Answered while delivery is still being retried (the first retry waits a second).
    expect(await gh.db.prisma.auditEvent.count({ where: { type: 'mail.failed' } })).toBe(0);
    let failed: Awaited<ReturnType<typeof auditRows>> = [];
    for (let i = 0; i < 60 && failed.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 500));
      failed = await gh.db.prisma.auditEvent.findMany({ where: { type: 'mail.failed' } });
    }
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ outcome: 'failure', subject: user.id, details: { purpose: 'password_reset', attempts: 4 } });
    expect(gh.logs.filter((line) => line.includes('"mail delivery failed"'))).toHaveLength(4);
    expect(gh.logs.some((line) => line.includes('"mail given up"'))).toBe(true);
  }, 60_000);
});
