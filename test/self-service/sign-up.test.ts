// Sign-up (SIGNUP=off | open | domains) with a real SMTP server: the link on the login page, the
// domain list, the same answer for an address that already has an account (whose owner is told),
// no sign-in to an application before the email is verified, then the verified sign-in. And the
// embedded default without SMTP_URL: messages written as .eml files under DATA_DIR, links logged.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { simpleParser } from 'mailparser';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { useGatehouse } from '../support/use-gatehouse.js';
import {
  auditRows,
  authorizationUrl,
  callbackOf,
  consent,
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
  type Landing,
} from '../support/signin.js';
import { linkIn, startSmtp, type TestSmtp } from '../support/smtp.js';

function hrefOf(html: string, text: string): string | undefined {
  const match = new RegExp(`<a[^>]*href="([^"]*)"[^>]*>\\s*${text}\\s*</a>`).exec(html);
  return match ? htmlUnescape(match[1]!) : undefined;
}

describe.each(PROVIDERS)('sign-up on %s', (provider) => {
  let smtp: TestSmtp;
  let gh: TestGatehouse;
  beforeAll(async () => {
    smtp = await startSmtp();
    gh = await startGatehouse(provider, { SMTP_URL: smtp.url, SIGNUP: 'example.com, Example.ORG' });
  });
  afterAll(async () => {
    await gh?.close();
    await smtp?.close();
  });

  async function signUpPage(browser: TestBrowser) {
    const client = await registerClient(gh);
    const login = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
    const href = hrefOf(login.html, 'Create an account');
    expect(href).toBeDefined();
    return { client, page: expectPage(await browser.get(new URL(href!, gh.config.issuer))) };
  }

  test('a new account verifies its email before it can finish signing in to an app', async () => {
    const browser = new TestBrowser(gh);
    const { client, page } = await signUpPage(browser);
    const email = `new-${randomToken().toLowerCase()}@example.org`;
    const form = formWithAction(page.html, '/sign-up');
    const other = expectPage(await browser.submit(form, { name: 'Dorothy Vaughan', email: `x-${randomToken().toLowerCase()}@elsewhere.net`, password: PASSWORD }));
    expect([other.status, other.html.includes('open to addresses at example.com, example.org only')]).toEqual([400, true]);
    const weak = expectPage(await browser.submit(form, { name: 'Dorothy Vaughan', email, password: 'short' }));
    expect(weak.status).toBe(400);

    const created = expectPage(await browser.submit(form, { name: 'Dorothy Vaughan', email, password: PASSWORD }));
    expect(created.html).toContain('Check your email');
    const user = await gh.db.prisma.user.findUnique({ where: { email } });
    expect(user).toMatchObject({ name: 'Dorothy Vaughan', emailVerified: false });
    const mail = await smtp.nextTo(email);
    const link = linkIn(mail, '/email-verification/confirm');

    // Before verification: the right password, and still no way through to the app.
    const back = new URL(hrefOf(created.html, 'Back to sign in')!, gh.config.issuer);
    const refused = expectPage(await signIn(browser, await browser.get(back), email));
    expect([refused.status, refused.html.includes('Confirm your email address first')]).toEqual([403, true]);
    const [failure] = await auditRows(gh, 'login.failure', { subject: user!.id });
    expect(failure?.details).toMatchObject({ reason: 'email_unverified' });

    const confirm = expectPage(await browser.get(link));
    const done = expectPage(await browser.submit(formWithAction(confirm.html, '/email-verification/confirm')));
    expect(done.html).toContain('Your email address is confirmed');
    let landing: Landing = await signIn(browser, await browser.get(new URL(hrefOf(done.html, 'Continue to sign in')!, gh.config.issuer)), email);
    if (landing.kind === 'page' && landing.html.includes('/consent"')) landing = await consent(browser, landing);
    expect(callbackOf(landing, client).code).toBeTruthy();
    expect(await auditRows(gh, 'signup.created', { subject: user!.id })).toHaveLength(1);
  });

  test('an address that has an account gets the same answer; its owner is told, nothing is created', async () => {
    const existing = await registerUser(gh, { email: `owner-${randomToken().toLowerCase()}@example.com` });
    const fresh = `fresh-${randomToken().toLowerCase()}@example.com`;
    const answers = [];
    for (const email of [existing.email, fresh]) {
      const browser = new TestBrowser(gh);
      const { page } = await signUpPage(browser);
      const answer = expectPage(await browser.submit(formWithAction(page.html, '/sign-up'), { name: 'Someone', email, password: PASSWORD }));
      answers.push({ status: answer.status, html: answer.html.replace(email, '<email>').replace(/\/interaction\/[A-Za-z0-9_-]+/g, '/interaction/…') });
    }
    expect(answers[0]).toEqual(answers[1]);
    const notice = await smtp.nextTo(existing.email);
    expect(notice.subject).toBe('Someone tried to create an account with your address');
    expect(notice.text).not.toMatch(/https?:\/\//);
    await smtp.nextTo(fresh);
    expect(await gh.db.prisma.user.count({ where: { email: existing.email } })).toBe(1);
    // The owner's account is untouched: same password, still verified.
    expect(await gh.db.prisma.user.findUnique({ where: { email: existing.email } })).toMatchObject({ id: existing.id, emailVerified: true });
  });

  test('the form refuses a post without its CSRF token', async () => {
    const res = await fetch(`${gh.config.issuer}/sign-up`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
      body: new URLSearchParams({ name: 'x', email: `csrf-${randomToken().toLowerCase()}@example.com`, password: PASSWORD }).toString(),
    });
    expect(res.status).toBe(403);
  });
});

describe.each(PROVIDERS)('without SMTP_URL and with SIGNUP off on %s', (provider) => {
  const gh = useGatehouse(provider);

  test('no sign-up link, no sign-up page', async () => {
    const client = await registerClient(gh);
    const browser = new TestBrowser(gh);
    const login = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
    expect(hrefOf(login.html, 'Create an account')).toBeUndefined();
    expect(hrefOf(login.html, 'Forgot password\\?')).toBeDefined();
    expect(expectPage(await browser.get(`${gh.config.issuer}/sign-up`)).status).toBe(404);
  });

  test('a reset link is written as an .eml file under DATA_DIR, and its link logged at info', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    const browser = new TestBrowser(gh);
    const login = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
    const form = expectPage(await browser.get(new URL(hrefOf(login.html, 'Forgot password\\?')!, gh.config.issuer)));
    expect(expectPage(await browser.submit(formWithAction(form.html, '/password-reset'), { email: user.email })).status).toBe(200);

    const dir = path.join(gh.config.dataDir, 'mail');
    let files: string[] = [];
    for (let i = 0; i < 100 && files.length === 0; i++) {
      try {
        files = readdirSync(dir).filter((f) => f.endsWith('.eml'));
      } catch {
        // Not made yet.
      }
      if (files.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(files).toHaveLength(1);
    const parsed = await simpleParser(readFileSync(path.join(dir, files[0]!)));
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : '').toBe(user.email);
    const link = [...(parsed.text ?? '').matchAll(/https?:\/\/\S+/g)].map((m) => m[0]).find((l) => l.includes('/password-reset/confirm'));
    expect(link).toBeDefined();
    const logged = gh.logs.map((line) => JSON.parse(line) as { level: number; msg: string; links?: string[] }).find((line) => line.msg === 'mail written to a file (no SMTP_URL)');
    expect(logged).toMatchObject({ level: 30, links: [link] });
    // The link works.
    expect(expectPage(await browser.get(link!)).html).toContain('Choose a new password');
  });
});

describe.each(PROVIDERS)('sign-up attempts spend the sign-in limit per IP address on %s', (provider) => {
  const gh = useGatehouse(provider, { SIGNUP: 'open', LOGIN_IP_LIMIT: '2' });

  test('the third sign-up from one address in the window is refused with 429', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const browser = new TestBrowser(gh);
      const page = expectPage(await browser.get(`${gh.config.issuer}/sign-up`));
      const answer = expectPage(await browser.submit(formWithAction(page.html, '/sign-up'), { name: 'Bot', email: `bot-${i}-${randomToken().toLowerCase()}@example.com`, password: PASSWORD }));
      statuses.push(answer.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(await gh.db.prisma.selfSignUp.count()).toBe(2);
    const [refused] = await auditRows(gh, 'signup.refused');
    expect(refused?.details).toMatchObject({ reason: 'rate_limited' });
  });
});
