// The account page (/account) for the person signed in to Gatehouse in the browser: connected
// apps revoked (their refresh tokens then fail), sessions signed out, name and password changed,
// email verification and email change through a real SMTP server (test/support/smtp.ts), every
// form CSRF-protected and bound to the session.
import { createUser } from '../../src/accounts/users.js';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import {
  auditRows,
  authorizationUrl,
  exchangeCode,
  expectPage,
  formWithAction,
  formsOf,
  PASSWORD,
  pkcePair,
  randomToken,
  registerClient,
  registerUser,
  signIn,
  TestBrowser,
  tokenRequest,
  userinfo,
  type TestClient,
} from '../support/signin.js';
import { linkIn, startSmtp, type TestSmtp } from '../support/smtp.js';

describe.each(PROVIDERS)('the account page on %s', (provider) => {
  let smtp: TestSmtp;
  let gh: TestGatehouse;
  let client: TestClient;
  beforeAll(async () => {
    smtp = await startSmtp();
    gh = await startGatehouse(provider, { SMTP_URL: smtp.url });
    client = await registerClient(gh, { grant_types: ['authorization_code', 'refresh_token'] });
  });
  afterAll(async () => {
    await gh?.close();
    await smtp?.close();
  });

  const accountUrl = () => `${gh.config.issuer}/account`;

  /** A browser signed in as `email`, with the tokens its app got. */
  async function signedIn(email: string, password = PASSWORD, scope = 'openid email offline_access') {
    const browser = new TestBrowser(gh);
    const { verifier, challenge } = pkcePair();
    let landing = await browser.get(authorizationUrl(gh, { client, codeChallenge: challenge, scope, extra: { prompt: 'consent' } }));
    landing = await signIn(browser, landing, email, password);
    if (landing.kind === 'page' && landing.html.includes('/consent"')) landing = await browser.submit(formWithAction(landing.html, '/consent'), { decision: 'allow' });
    if (landing.kind !== 'redirect') throw new Error(`sign-in did not finish:\n${landing.html.slice(0, 1500)}`);
    const tokens = await exchangeCode(gh, client, landing.location.searchParams.get('code')!, verifier);
    expect(tokens.status).toBe(200);
    return { browser, tokens: tokens.body as { refresh_token: string; access_token: string } };
  }

  async function accountPage(browser: TestBrowser) {
    const page = expectPage(await browser.get(accountUrl()));
    expect(page.status).toBe(200);
    return page;
  }

  test('nobody signed in: a page that says so, and no form', async () => {
    const page = expectPage(await new TestBrowser(gh).get(accountUrl()));
    expect(page.status).toBe(401);
    expect(page.html).toContain('You are not signed in');
    expect(formsOf(page.html)).toEqual([]);
  });

  test('revoking a connected app makes its refresh token fail', async () => {
    const user = await registerUser(gh);
    const { browser, tokens } = await signedIn(user.email);
    const page = await accountPage(browser);
    expect(page.html).toContain(user.email);
    expect(page.html).toContain('Acme Notes');
    expect(page.html).toContain('href="/account/security"');
    const revoke = formsOf(page.html).find((f) => f.action === '/account/apps/revoke' && f.fields.client_id === client.clientId);
    expect(revoke).toBeDefined();
    // The refresh token works until then.
    const refreshed = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refreshed.status).toBe(200);

    const after = expectPage(await browser.submit(revoke!));
    expect(browser.hops.at(-2)).toMatchObject({ method: 'POST', status: 303 });
    expect(after.html).toContain('no longer has access');
    expect(after.html).not.toContain('Acme Notes');
    expect((await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token as string })).body).toMatchObject({ error: 'invalid_grant' });
    const [audit] = await auditRows(gh, 'grant.revoked', { subject: user.id });
    expect(audit).toMatchObject({ clientId: client.clientId, details: { grants: 1, by: 'account_page' } });
  });

  test('another session is listed and signed out; "everywhere else" keeps this one', async () => {
    const user = await registerUser(gh);
    const first = await signedIn(user.email);
    const second = await signedIn(user.email);
    const third = await signedIn(user.email);
    const page = await accountPage(first.browser);
    expect(page.html).toContain('This browser');
    const signOuts = formsOf(page.html).filter((f) => f.action === '/account/sessions/sign-out');
    expect(signOuts).toHaveLength(2);
    // The page never shows a session id (it is the session cookie's value).
    const sessionIds = (await gh.db.prisma.session.findMany({ where: { accountId: user.id } })).map((s) => s.id);
    expect(sessionIds).toHaveLength(3);
    for (const id of sessionIds) expect(page.html).not.toContain(id);

    expectPage(await first.browser.submit(signOuts[0]!));
    expect(await gh.db.prisma.session.count({ where: { accountId: user.id } })).toBe(2);
    const statuses = [(await second.browser.get(accountUrl())).status, (await third.browser.get(accountUrl())).status].sort();
    expect(statuses).toEqual([200, 401]);

    const others = formWithAction((await accountPage(first.browser)).html, '/account/sessions/sign-out-others');
    expectPage(await first.browser.submit(others));
    expect(await gh.db.prisma.session.count({ where: { accountId: user.id } })).toBe(1);
    expect((await second.browser.get(accountUrl())).status).toBe(401);
    expect((await third.browser.get(accountUrl())).status).toBe(401);
    expect((await first.browser.get(accountUrl())).status).toBe(200);
    const ended = await auditRows(gh, 'session.ended', { subject: user.id }, 2);
    expect(ended.map((row) => (row.details as { reason: string }).reason)).toEqual(['account_page', 'account_page_others']);
  });

  test("a signed-out session's tokens stop working, unless they were for offline access", async () => {
    const user = await registerUser(gh);
    const here = await signedIn(user.email);
    const online = await signedIn(user.email, PASSWORD, 'openid email');
    expect((await userinfo(gh, online.tokens.access_token)).status).toBe(200);
    const offlineAccess = here.tokens.access_token;
    const others = formWithAction((await accountPage(here.browser)).html, '/account/sessions/sign-out-others');
    expectPage(await here.browser.submit(others));
    expect((await userinfo(gh, online.tokens.access_token)).status).toBe(401);
    // As a logout does: the session's grant stays (consent), its stored tokens go, and JWT access
    // tokens it issued until now are inactive at introspection (a cutoff for the grant).
    const grants = await gh.db.prisma.grant.findMany({ where: { accountId: user.id } });
    expect(grants).toHaveLength(2);
    const cutoffs = await gh.db.prisma.grantAccessTokenCutoff.findMany({ where: { grantId: { in: grants.map((g) => g.id) } } });
    expect(cutoffs).toHaveLength(1);
    expect(await gh.db.prisma.accessToken.count({ where: { grantId: cutoffs[0]!.grantId } })).toBe(0);
    // This session's own tokens (offline_access) are untouched.
    expect((await userinfo(gh, offlineAccess)).status).toBe(200);
    expect((await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: here.tokens.refresh_token })).status).toBe(200);
  });

  test("another person's sign-out form, posted from an attacker's session, signs nobody out", async () => {
    const victim = await registerUser(gh);
    const attacker = await registerUser(gh);
    const v = await signedIn(victim.email);
    await signedIn(victim.email);
    const a = await signedIn(attacker.email);
    const victimForm = formsOf((await accountPage(v.browser)).html).find((f) => f.action === '/account/sessions/sign-out')!;
    // The victim's handle with the victim's token, posted from the attacker's session: refused (token bound to the session).
    expect((await a.browser.submit(victimForm)).status).toBe(403);
    expect(await gh.db.prisma.session.count({ where: { accountId: victim.id } })).toBe(2);
  });

  test('name and password change; a wrong current password changes nothing', async () => {
    const user = await registerUser(gh);
    const { browser } = await signedIn(user.email);
    const nameForm = formWithAction((await accountPage(browser)).html, '/account/name');
    const named = expectPage(await browser.submit(nameForm, { name: 'Grace Hopper' }));
    expect(named.html).toContain('Your name is saved.');
    expect(named.html).toContain('value="Grace Hopper"');

    const passwordForm = formWithAction(named.html, '/account/password');
    const wrong = expectPage(await browser.submit(passwordForm, { current_password: 'not my password at all', new_password: 'another long enough password' }));
    expect([wrong.status, wrong.html.includes('current password is not right')]).toEqual([400, true]);
    const weak = expectPage(await browser.submit(passwordForm, { current_password: PASSWORD, new_password: 'short' }));
    expect(weak.status).toBe(400);
    const changed = expectPage(await browser.submit(passwordForm, { current_password: PASSWORD, new_password: 'another long enough password' }));
    expect(changed.html).toContain('Your password is changed.');
    await signedIn(user.email, 'another long enough password');
    expect(await auditRows(gh, 'password.changed', { subject: user.id })).toHaveLength(1);
    expect(await auditRows(gh, 'password.change_failed', { subject: user.id })).toHaveLength(1);
  });

  test('wrong current passwords spend the sign-in budget per address and account: then 429, even for the right one', async () => {
    const user = await registerUser(gh);
    const { browser } = await signedIn(user.email);
    const form = formWithAction((await accountPage(browser)).html, '/account/password');
    const limit = gh.config.rateLimits['login-ip-account'].points;
    for (let i = 0; i < limit; i++) {
      expect(expectPage(await browser.submit(form, { current_password: `wrong guess ${i}`, new_password: 'another long enough password' })).status).toBe(400);
    }
    const limited = expectPage(await browser.submit(form, { current_password: PASSWORD, new_password: 'another long enough password' }));
    expect([limited.status, limited.html.includes('Too many wrong passwords')]).toEqual([429, true]);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    const failures = await auditRows(gh, 'password.change_failed', { subject: user.id }, limit + 1);
    expect((failures.at(-1)?.details as { reason?: string }).reason).toBe('rate_limited');
  });

  test('every form needs its own token of this session', async () => {
    const user = await registerUser(gh);
    const { browser } = await signedIn(user.email);
    const page = await accountPage(browser);
    const nameForm = formWithAction(page.html, '/account/name');
    expect((await browser.post('/account/name', { name: 'No Token' })).status).toBe(403);
    const revokeCsrf = formWithAction(page.html, '/account/apps/revoke').fields.csrf!;
    expect((await browser.post('/account/name', { csrf: revokeCsrf, name: 'Wrong Token' })).status).toBe(403);
    // Another browser of the same person has its own tokens.
    const other = await signedIn(user.email);
    expect((await other.browser.submit(nameForm, { name: 'Other Session' })).status).toBe(403);
    expect((await gh.db.prisma.user.findUnique({ where: { id: user.id } }))?.name).toBe('Ada Lovelace');
  });

  test('email verification: the link sets email_verified, once', async () => {
    const email = `unverified-${randomToken().toLowerCase()}@example.com`;
    const user = await createUser(gh.db.prisma, { email, name: 'Una Verified', password: PASSWORD });
    const { browser, tokens } = await signedIn(email);
    const page = await accountPage(browser);
    expect(page.html).toContain('not verified');
    expectPage(await browser.submit(formWithAction(page.html, '/account/verify-email')));
    const mail = await smtp.nextTo(email);
    expect(mail.subject).toBe('Confirm your email address');
    const link = linkIn(mail, '/email-verification/confirm');
    // A link shown to the password-reset page is foreign there.
    const asReset = new URL('/password-reset/confirm', link);
    asReset.search = link.search;
    expect(expectPage(await browser.get(asReset)).status).toBe(400);

    const confirm = formWithAction(expectPage(await browser.get(link)).html, '/email-verification/confirm');
    expect((await gh.db.prisma.user.findUnique({ where: { id: user.id } }))?.emailVerified).toBe(false);
    expect(expectPage(await new TestBrowser(gh).get(link)).status).toBe(200);
    const done = expectPage(await browser.submit(confirm));
    expect(done.html).toContain('Your email address is confirmed');
    expect((await gh.db.prisma.user.findUnique({ where: { id: user.id } }))?.emailVerified).toBe(true);
    expect((await userinfo(gh, tokens.access_token)).body).toMatchObject({ email, email_verified: true });
    const again = expectPage(await browser.submit(confirm));
    expect([again.status, again.html.includes('This link cannot be used')]).toEqual([400, true]);
    expect(await auditRows(gh, 'email.verified', { subject: user.id })).toHaveLength(1);
  });

  test('email change: only after the new address confirms, with a notice to the old one', async () => {
    const user = await registerUser(gh);
    const newEmail = `moved-${randomToken().toLowerCase()}@example.org`;
    const { browser } = await signedIn(user.email);
    const emailForm = formWithAction((await accountPage(browser)).html, '/account/email');
    const wrong = expectPage(await browser.submit(emailForm, { new_email: newEmail, current_password: 'wrong password, surely' }));
    expect(wrong.status).toBe(400);
    const asked = expectPage(await browser.submit(emailForm, { new_email: newEmail.toUpperCase(), current_password: PASSWORD }));
    expect(asked.html).toContain('We sent a link to your new address');
    expect(asked.html).toContain(`Waiting for confirmation: ${newEmail}`);
    const mail = await smtp.nextTo(newEmail);
    expect(mail.subject).toBe('Confirm your new email address');
    // Nothing changed yet.
    expect((await gh.db.prisma.user.findUnique({ where: { id: user.id } }))?.email).toBe(user.email);

    const link = linkIn(mail, '/email-verification/confirm');
    const confirm = formWithAction(expectPage(await browser.get(link)).html, '/email-verification/confirm');
    const done = expectPage(await browser.submit(confirm));
    expect(done.html).toContain('Your email address is changed');
    const row = await gh.db.prisma.user.findUnique({ where: { id: user.id } });
    expect(row).toMatchObject({ email: newEmail, emailVerified: true });
    const notice = await smtp.nextTo(user.email);
    expect(notice.subject).toBe('Your email address was changed');
    expect(notice.text).toContain(newEmail);
    expect(notice.text).not.toMatch(/https?:\/\//);
    // Reused: refused. The new address signs in; the old one no longer does.
    expect(expectPage(await browser.submit(confirm)).status).toBe(400);
    await signedIn(newEmail);
    const old = new TestBrowser(gh);
    const oldLogin = await old.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge }));
    expect(expectPage(await signIn(old, oldLogin, user.email)).status).toBe(400);
    expect(await auditRows(gh, 'email_change.completed', { subject: user.id })).toHaveLength(1);
  });

  test('email change: an expired link, and an address taken meanwhile, change nothing', async () => {
    const user = await registerUser(gh);
    const { browser } = await signedIn(user.email);
    const late = `late-${randomToken().toLowerCase()}@example.org`;
    const taken = `taken-${randomToken().toLowerCase()}@example.org`;
    const form = formWithAction((await accountPage(browser)).html, '/account/email');
    await browser.submit(form, { new_email: late, current_password: PASSWORD });
    await browser.submit(formWithAction((await accountPage(browser)).html, '/account/email'), { new_email: taken, current_password: PASSWORD });
    const lateLink = linkIn(await smtp.nextTo(late), '/email-verification/confirm');
    const takenLink = linkIn(await smtp.nextTo(taken), '/email-verification/confirm');

    const lateConfirm = formWithAction(expectPage(await browser.get(lateLink)).html, '/email-verification/confirm');
    await gh.db.prisma.accountToken.updateMany({ where: { userId: user.id, email: late }, data: { expiresAt: new Date(Date.now() - 1000) } });
    const expired = expectPage(await browser.submit(lateConfirm));
    expect([expired.status, expired.html.includes('This link has expired')]).toEqual([400, true]);

    await registerUser(gh, { email: taken });
    const inUse = expectPage(await browser.submit(formWithAction(expectPage(await browser.get(takenLink)).html, '/email-verification/confirm')));
    expect([inUse.status, inUse.html.includes('That address is taken')]).toEqual([409, true]);
    expect((await gh.db.prisma.user.findUnique({ where: { id: user.id } }))?.email).toBe(user.email);
  });
});
