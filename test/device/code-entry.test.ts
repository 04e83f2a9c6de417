// Typing the user code (RFC 8628 §3.3, §5.1): lenient about how it is typed, strict about how
// often a wrong one may be tried. Wrong entries are limited per browser session and per client
// IP address, audited as device.code_invalid (never with the code), and past the limit the page
// says to wait (RFC 8628 §5.1: the code space is small enough to guess).
import { randomInt } from 'node:crypto';
import { PROVIDERS, type Provider } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { TestBrowser, auditRows, expectPage, formWithAction, type Landing } from '../support/signin.js';
import { enterCode, inputValue, registerDeviceClient, startDeviceAuthorization, textOf } from '../support/device-flow.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
/** A well-formed code that no device was given (the odds of a clash are 1 in 2.6·10^10). */
function unknownCode(): string {
  const letters = Array.from({ length: 8 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return `${letters.slice(0, 4)}-${letters.slice(4)}`;
}

function expectLoginPage(landing: Landing): void {
  const page = expectPage(landing);
  expect(page.url.pathname).toMatch(/^\/interaction\//);
  expect(page.html).toContain('<h1>Sign in</h1>');
}

/** Submits `typed` on the entry page this browser already shows (keeping its session). */
async function typeCode(browser: TestBrowser, gh: TestGatehouse, typed: string): Promise<Extract<Landing, { kind: 'page' }>> {
  const entry = expectPage(await browser.get(`${gh.config.issuer}/device`));
  return expectPage(await browser.submit(formWithAction(entry.html, '/device'), { user_code: typed }));
}

describe.each(PROVIDERS)('user code entry on %s', (provider: Provider) => {
  describe('how a code may be typed', () => {
    const gh = useGatehouse(provider);

    test.each([
      ['lower case', (code: string) => code.toLowerCase()],
      ['without the dash', (code: string) => code.replace('-', '')],
      ['with spaces around it', (code: string) => `  ${code}\t `],
      ['all of these at once', (code: string) => ` ${code.toLowerCase().replace('-', '')} `],
    ])('%s: accepted, and on to the login page', async (_how, typed) => {
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      expectLoginPage(await enterCode(new TestBrowser(gh), authorization.verification_uri, typed(authorization.user_code)));
    });

    test('the entry page: a labelled code field, no script, the look of the sign-in pages', async () => {
      const res = await fetch(`${gh.config.issuer}/device`);
      const html = await res.text();
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toContain("script-src 'none'");
      expect(html).toContain('<link rel="stylesheet" href="/static/gatehouse.css">');
      expect(html).toMatch(/<label for="user_code">Code<\/label>/);
      expect(html).not.toMatch(/<script|onfocus=|onclick=/i);
      expect(textOf(html)).toContain('Connect a device');
    });

    test('an empty entry asks for the code; a malformed one says what a code looks like and keeps what was typed', async () => {
      const browser = new TestBrowser(gh);
      for (const nothing of ['', '   ', ' - ']) {
        const empty = await typeCode(browser, gh, nothing);
        expect(empty.status).toBe(400);
        expect(textOf(empty.html)).toContain('Enter the code shown on your device.');
      }

      const malformed = await typeCode(browser, gh, 'abc-123');
      expect(malformed.status).toBe(400);
      expect(textOf(malformed.html)).toContain('A code has 8 letters, like BCDF-GHJK.');
      expect(inputValue(malformed.html, 'user_code')).toBe('abc-123');

      const unknown = unknownCode();
      const wrong = await typeCode(browser, gh, unknown);
      expect(wrong.status).toBe(400);
      expect(textOf(wrong.html)).toContain('That code is not valid.');
      expect(inputValue(wrong.html, 'user_code')).toBe(unknown);
    });

    test("a post without confirm (oidc-provider's own confirmation step) shows the entry page with the code filled in", async () => {
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      const browser = new TestBrowser(gh);
      const entry = expectPage(await browser.get(authorization.verification_uri));
      const { confirm: _confirm, ...withoutConfirm } = formWithAction(entry.html, '/device').fields;
      const again = expectPage(await browser.post(`${gh.config.issuer}/device`, { ...withoutConfirm, user_code: authorization.user_code.toLowerCase() }));
      expect(again.status).toBe(200);
      expect(inputValue(again.html, 'user_code')).toBe(authorization.user_code);
      expectLoginPage(await browser.submit(formWithAction(again.html, '/device'), { user_code: inputValue(again.html, 'user_code')! }));
    });

    test('a form with a stale CSRF value is asked again, not counted', async () => {
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      const browser = new TestBrowser(gh);
      const entry = expectPage(await browser.get(authorization.verification_uri));
      const form = formWithAction(entry.html, '/device');
      const stale = expectPage(await browser.submit({ ...form, fields: { ...form.fields, xsrf: 'stale' } }, { user_code: authorization.user_code }));
      expect(stale.status).toBe(400);
      expect(textOf(stale.html)).toContain('This page was out of date. Enter the code again.');
      // The page it answers with carries a fresh form that works.
      expectLoginPage(await browser.submit(formWithAction(stale.html, '/device'), { user_code: authorization.user_code }));
    });
  });

  describe('wrong codes', () => {
    let gh: TestGatehouse | undefined;
    afterEach(async () => {
      await gh?.close();
      gh = undefined;
    });

    test('are limited per browser session: audited, then the page says to wait, and even a right code is refused', async () => {
      gh = await startGatehouse(provider, { DEVICE_CODE_ENTRY_LIMIT: '3', DEVICE_CODE_ENTRY_IP_LIMIT: '10', DEVICE_CODE_ENTRY_WINDOW: '15m' });
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      const browser = new TestBrowser(gh);
      const typed = [unknownCode(), unknownCode(), unknownCode()];

      for (const [i, code] of typed.entries()) {
        const page = await typeCode(browser, gh, code);
        expect(page.status).toBe(400);
        expect(textOf(page.html)).toContain('That code is not valid.');
        expect(page.headers.get('ratelimit-remaining')).toBe(String(2 - i));
        // The last allowed attempt already says to wait.
        if (i < 2) expect(textOf(page.html)).not.toContain('Wait');
        else expect(textOf(page.html)).toContain('Too many incorrect codes were entered. Wait 15 minutes, then enter the code again.');
      }

      const refused = await typeCode(browser, gh, authorization.user_code);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.headers.get('ratelimit-remaining')).toBe('0');
      expect(textOf(refused.html)).toContain('Please wait');
      expect(textOf(refused.html)).toContain('Wait 15 minutes');
      expect(refused.html).not.toContain('/login"');

      // Another browser (same address, budget left there) can still use the right code.
      expectLoginPage(await enterCode(new TestBrowser(gh), authorization.verification_uri, authorization.user_code));

      const audited = await auditRows(gh, 'device.code_invalid', {}, 4);
      expect(audited.map((row) => (row.details as { reason: string }).reason)).toEqual(['unknown_code', 'unknown_code', 'unknown_code', 'rate_limited']);
      for (const row of audited) expect(row).toMatchObject({ outcome: 'failure', ip: expect.stringMatching(/127\.0\.0\.1/) });
      // Neither the wrong codes nor the right one are written anywhere.
      const written = JSON.stringify(audited) + gh.logs.join('');
      for (const code of [...typed, authorization.user_code]) {
        expect(written).not.toContain(code);
        expect(written).not.toContain(code.replace('-', ''));
      }
    });

    test('are limited per IP address across sessions', async () => {
      gh = await startGatehouse(provider, { DEVICE_CODE_ENTRY_LIMIT: '3', DEVICE_CODE_ENTRY_IP_LIMIT: '5' });
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      const first = new TestBrowser(gh);
      for (let i = 0; i < 3; i++) expect((await typeCode(first, gh, unknownCode())).status).toBe(400);
      const second = new TestBrowser(gh);
      expect(textOf((await typeCode(second, gh, unknownCode())).html)).not.toContain('Wait');
      expect(textOf((await typeCode(second, gh, unknownCode())).html)).toContain('Wait 15 minutes');

      // A fresh session from the same address is refused too, before its code is looked up.
      const third = new TestBrowser(gh);
      const refused = await typeCode(third, gh, authorization.user_code);
      expect(refused.status).toBe(429);
      expect(textOf(refused.html)).toContain('Please wait');
    });

    test('finding 15.10: the per-address budget groups an IPv6 /64, as every other limit does', async () => {
      gh = await startGatehouse(provider, { TRUST_PROXY: 'true', DEVICE_CODE_ENTRY_LIMIT: '5', DEVICE_CODE_ENTRY_IP_LIMIT: '2' });
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      const first = new TestBrowser(gh, { 'x-forwarded-for': '2001:db8:1:2::1' });
      for (let i = 0; i < 2; i++) expect((await typeCode(first, gh, unknownCode())).status).toBe(400);
      // Another address of the same /64 (one subscriber's network) has no budget left...
      const neighbour = await typeCode(new TestBrowser(gh, { 'x-forwarded-for': '2001:db8:1:2:ffff::99' }), gh, authorization.user_code);
      expect(neighbour.status).toBe(429);
      // ... while another /64 has its own.
      expectLoginPage(await enterCode(new TestBrowser(gh, { 'x-forwarded-for': '2001:db8:1:3::1' }), authorization.verification_uri, authorization.user_code));
    });

    test('right codes, empty entries and expired codes do not use up the budget', async () => {
      gh = await startGatehouse(provider, { DEVICE_CODE_ENTRY_LIMIT: '2', DEVICE_CODE_ENTRY_IP_LIMIT: '2' });
      const client = await registerDeviceClient(gh);
      const browser = new TestBrowser(gh);
      for (let i = 0; i < 3; i++) {
        const authorization = await startDeviceAuthorization(gh, client);
        expectLoginPage(await enterCode(browser, authorization.verification_uri, authorization.user_code));
        expect((await typeCode(browser, gh, i === 0 ? '' : ' - ')).status).toBe(400);
      }
      const expired = await startDeviceAuthorization(gh, client);
      await gh.db.prisma.deviceCode.update({ where: { id: expired.device_code }, data: { expiresAt: new Date(Date.now() - 1000) } });
      // oidc-provider reads expiry from the payload; move that too.
      const row = await gh.db.prisma.deviceCode.findUniqueOrThrow({ where: { id: expired.device_code } });
      const payload = row.payload as Record<string, unknown>;
      await gh.db.prisma.deviceCode.update({ where: { id: expired.device_code }, data: { payload: { ...payload, exp: Math.floor(Date.now() / 1000) - 1 } } });
      for (let i = 0; i < 3; i++) expect(textOf((await typeCode(browser, gh, expired.user_code)).html)).toContain('This code has expired');

      // The whole budget of 2 is still there: the first wrong code does not yet say to wait.
      expect(textOf((await typeCode(browser, gh, unknownCode())).html)).not.toContain('Wait');
      expect(textOf((await typeCode(browser, gh, unknownCode())).html)).toContain('Wait 15 minutes');
      expect(await gh.db.prisma.auditEvent.count({ where: { type: 'device.code_invalid' } })).toBe(2);
    });
  });
});
