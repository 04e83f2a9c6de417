// An event carrying a character the database refuses (PostgreSQL refuses NUL in text and in
// jsonb) must not keep any other event out of the audit table: rows are batched
// (src/audit/audit.ts), so one refused row used to cost every row of its batch.
import { PROVIDERS } from '../support/databases.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { TestBrowser, authorizationUrl, expectPage, pkcePair, registerClient, registerUser, signIn } from '../support/signin.js';
import { postForm } from '../support/oauth-http.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const WRONG_PASSWORDS = 6;
/** Longer than any client_id (200), so it is refused unseen and its first 200 characters are audited. */
const POISONED_CLIENT_ID = `poison\u0000${'\u0007\u001b[31m'.repeat(4)}${'x'.repeat(240)}`;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Every string inside a stored value (columns, JSON details). */
function stringsIn(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsIn);
  return [];
}

type AuditLine = { id: string; type: string; subject: string | null };

function auditLines(gh: TestGatehouse): AuditLine[] {
  return gh.logs
    .map((line) => JSON.parse(line) as { audit?: AuditLine })
    .flatMap((line) => (line.audit ? [line.audit] : []));
}

describe.each(PROVIDERS)('audit rows next to a poisoned event on %s', (provider) => {
  const gh = useGatehouse(provider, { LOGIN_IP_LIMIT: '1000', LOGIN_IP_ACCOUNT_LIMIT: '1000', TOKEN_CLIENT_LIMIT: '100000', REQUEST_IP_LIMIT: '100000' });
  const client = useBeforeAll(() => registerClient(gh));

  test('finding 15.4: every row of a victim\'s failed sign-ins is stored while poisoned client_ids are sent alongside', async () => {
    const victim = await registerUser(gh);
    let done = false;
    let poisoned = 0;
    // Poisoned token requests run throughout, so the victim's events share batches with them.
    // Since finding 15.5 they are refused at the boundary (src/http/control-characters.ts) before
    // anything is audited; storage.test.ts feeds such values to the audit writer directly.
    const poison = Promise.all(
      Array.from({ length: 3 }, async () => {
        while (!done) {
          const res = await postForm(`${gh.config.issuer}/token`, { grant_type: 'client_credentials', client_id: POISONED_CLIENT_ID, client_secret: 'x' });
          expect(res.status).toBeLessThan(500);
          poisoned += 1;
        }
      }),
    );
    poison.catch(() => undefined);
    try {
      for (let i = 0; i < WRONG_PASSWORDS; i++) {
        const browser = new TestBrowser(gh);
        const page = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
        expect(expectPage(await signIn(browser, page, victim.email, `wrong password ${i}!`)).status).toBe(400);
      }
    } finally {
      done = true;
    }
    await poison;
    expect(poisoned).toBeGreaterThan(0);
    await gh.audit.drain?.();

    // Every event logged about the victim (each failure, the lock) has its row.
    const logged = auditLines(gh).filter((line) => line.subject === victim.id);
    expect(logged.filter((line) => line.type === 'login.failure').length).toBeGreaterThanOrEqual(WRONG_PASSWORDS);
    const stored = await gh.db.prisma.auditEvent.findMany({ where: { subject: victim.id }, select: { id: true, type: true } });
    expect(stored.map((row) => `${row.type} ${row.id}`).sort()).toEqual(logged.map((line) => `${line.type} ${line.id}`).sort());

    // Nothing stored carries a control character, and no row was lost.
    const failures = await gh.db.prisma.auditEvent.findMany({ where: { type: 'client.auth_failed' } });
    for (const row of failures) expect(stringsIn([row.clientId, row.details]).filter((text) => CONTROL.test(text))).toEqual([]);
    expect(gh.logs.join('')).not.toContain('failed to store audit event');
  });
});
