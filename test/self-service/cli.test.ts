// `gatehouse user create --send-verification` as a subprocess: the verification link reaches a
// real SMTP server, and following it on a running Gatehouse sets email_verified.
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { expectPage, formWithAction, PASSWORD, randomToken, TestBrowser } from '../support/signin.js';
import { linkIn, startSmtp, type TestSmtp } from '../support/smtp.js';

jest.setTimeout(300_000);

describe.each(PROVIDERS)('user create --send-verification (%s)', (provider) => {
  let database: TestDatabase;
  let smtp: TestSmtp;
  let gh: TestGatehouse;
  let cli: Cli;
  beforeAll(async () => {
    database = await freshDatabase(provider);
    smtp = await startSmtp();
    gh = await startGatehouse(provider, { SMTP_URL: smtp.url }, database);
    cli = cliFor(database, { SMTP_URL: smtp.url, ISSUER: gh.config.issuer });
  });
  afterAll(async () => {
    await gh?.close();
    await smtp?.close();
    await database?.drop();
  });

  test('the link is delivered before the command ends, and verifies the address', async () => {
    const email = `cli-${randomToken().toLowerCase()}@example.com`;
    const created = await cli.json<{ id: string; email_verified: boolean }>(['user', 'create', '--email', email, '--send-verification', '--password-stdin'], { input: PASSWORD });
    expect(created.email_verified).toBe(false);
    expect(smtp.countTo(email)).toBe(1);
    const link = linkIn(await smtp.nextTo(email), '/email-verification/confirm');
    expect(link.origin).toBe(new URL(gh.config.issuer).origin);
    const browser = new TestBrowser(gh);
    expectPage(await browser.submit(formWithAction(expectPage(await browser.get(link)).html, '/email-verification/confirm')));
    expect((await gh.db.prisma.user.findUnique({ where: { id: created.id } }))?.emailVerified).toBe(true);
    const audit = await gh.db.prisma.auditEvent.findMany({ where: { type: 'email.verification_sent', subject: created.id } });
    expect(audit).toHaveLength(1);
  });

  test('--send-verification with --email-verified is a usage error', async () => {
    const result = await cli(['user', 'create', '--email', `both-${randomToken().toLowerCase()}@example.com`, '--email-verified', '--send-verification', '--password-stdin'], { input: PASSWORD });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('exclude each other');
  });
});
