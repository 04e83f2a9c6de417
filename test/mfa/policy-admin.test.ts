// The MFA policy and its administration, through the CLI as a subprocess and sign-in over HTTP:
// `client create --require-mfa` and the seed's require_mfa, MFA=required leading a person
// without a factor through enrolment at any client, `user show` listing factors without a
// secret, `user mfa reset` removing them (audited), and MFA=off never asking.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { cliFor, type Cli } from '../support/cli.js';
import { freshDatabase, PROVIDERS, type TestDatabase } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { enrolTotp, idTokenClaims, relyingParty } from '../support/mfa.js';
import { TestBrowser, auditRows, authorizationUrl, callbackOf, consent, expectPage, formWithAction, pkcePair, randomToken, registerClient, registerUser, signIn, type TestClient } from '../support/signin.js';

jest.setTimeout(300_000);

type Factor = { kind: string; name: string; created_at: string; last_used_at: string | null; detail: string | null };

async function signInTo(gh: TestGatehouse, client: TestClient, email: string) {
  const browser = new TestBrowser(gh);
  const { verifier, challenge } = pkcePair();
  const state = randomToken();
  const nonce = randomToken();
  const login = await browser.get(authorizationUrl(gh, { client, state, nonce, codeChallenge: challenge }));
  return { browser, verifier, state, nonce, landing: await signIn(browser, login, email) };
}

describe.each(PROVIDERS)('MFA policy and administration (%s)', (provider) => {
  let database: TestDatabase;
  let cli: Cli;
  let gh: TestGatehouse;

  beforeAll(async () => {
    database = await freshDatabase(provider);
    cli = cliFor(database);
    gh = await startGatehouse(provider, { MFA: 'required', LOGIN_IP_LIMIT: '1000' }, database);
  });
  afterAll(async () => {
    await gh?.close();
    await database?.drop();
  });

  test('client create --require-mfa, client update --no-require-mfa, and require_mfa in a seed', async () => {
    const created = await cli.json<{ client_id: string; require_mfa: boolean }>(['client', 'create', '--name', 'Payroll', '--type', 'web', '--redirect-uri', 'https://payroll.example.com/cb', '--require-mfa']);
    expect(created.require_mfa).toBe(true);
    expect((await gh.db.prisma.client.findUniqueOrThrow({ where: { id: created.client_id } })).requireMfa).toBe(true);
    expect((await cli.json<{ require_mfa: boolean }>(['client', 'update', created.client_id, '--no-require-mfa'])).require_mfa).toBe(false);
    expect((await cli(['client', 'show', created.client_id])).stdout).toMatch(/^require_mfa:\s+false$/m);

    const file = path.join(cli.cwd, 'mfa-seed.json');
    writeFileSync(file, JSON.stringify({ clients: [{ client_id: 'hr-portal', name: 'HR', profile: 'web', redirect_uris: ['https://hr.example.com/cb'], require_mfa: true }] }));
    expect((await cli(['seed', file])).code).toBe(0);
    expect((await gh.db.prisma.client.findUniqueOrThrow({ where: { id: 'hr-portal' } })).requireMfa).toBe(true);
    writeFileSync(file, JSON.stringify({ clients: [{ client_id: 'hr-portal', name: 'HR', profile: 'web', redirect_uris: ['https://hr.example.com/cb'], require_mfa: 'yes' }] }));
    const bad = await cli(['seed', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/require_mfa: must be true or false/);
  });

  test('MFA=required: enrolment at any client; user show lists the factors, never a secret; user mfa reset removes them', async () => {
    const client = await registerClient(gh);
    const user = await registerUser(gh);
    const first = await signInTo(gh, client, user.email);
    expect(expectPage(first.landing).html).toContain('Set up a second factor');
    const { secret, next } = await enrolTotp(first.browser, first.landing);
    let landing = await first.browser.submit(formWithAction(expectPage(next).html, '/mfa/continue'));
    landing = await consent(first.browser, landing);
    expect((await idTokenClaims(await relyingParty(gh, client), callbackOf(landing, client).url, first)).amr).toEqual(['pwd', 'otp', 'mfa']);

    const shown = await cli.json<{ email: string; factors: Factor[] }>(['user', 'show', user.email]);
    expect(shown.factors.map((f) => f.kind)).toEqual(['totp', 'recovery_codes']);
    expect(shown.factors[1]!.detail).toBe('10 of 10 left');
    const text = await cli(['user', 'show', user.email]);
    expect(text.stdout).toMatch(/^FACTOR\s+NAME\s+CREATED\s+LAST_USED\s+DETAIL$/m);
    expect(text.stdout).toMatch(/^totp\s+Authenticator app\s+\S+\s+\S+/m);
    const row = await gh.db.prisma.mfaTotp.findFirstOrThrow({ where: { userId: user.id } });
    for (const output of [JSON.stringify(shown), text.stdout]) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain(row.sealedSecret);
    }

    const reset = await cli.json<{ removed: number }>(['user', 'mfa', 'reset', user.email]);
    expect(reset.removed).toBe(11);
    expect((await cli.json<{ factors: Factor[] }>(['user', 'show', user.id])).factors).toEqual([]);
    const audited = await auditRows(gh, 'mfa.reset', { subject: user.id });
    expect(audited[0]?.details).toMatchObject({ removed: 11 });
    expect((await cli(['user', 'mfa', 'reset', 'nobody@example.com'])).code).toBe(1);

    // MFA=required and no factor any more: enrolment again.
    const again = await signInTo(gh, client, user.email);
    expect(expectPage(again.landing).html).toContain('Set up a second factor');
  });
});

describe.each(PROVIDERS)('MFA=off (%s)', (provider) => {
  let database: TestDatabase;
  let enrolling: TestGatehouse;
  let off: TestGatehouse;

  beforeAll(async () => {
    database = await freshDatabase(provider);
    enrolling = await startGatehouse(provider, { MFA: 'required' }, database);
    off = await startGatehouse(provider, { MFA: 'off' }, database);
  });
  afterAll(async () => {
    await enrolling?.close();
    await off?.close();
    await database?.drop();
  });

  test('a person with a factor signs in with the password alone, at the single-factor level; acr_values changes nothing', async () => {
    const client = await registerClient(enrolling);
    await enrolling.db.prisma.client.update({ where: { id: client.clientId }, data: { requireMfa: true } });
    const user = await registerUser(enrolling);
    const first = await signInTo(enrolling, client, user.email);
    await enrolTotp(first.browser, first.landing);
    expect(await enrolling.db.prisma.mfaTotp.count({ where: { userId: user.id, confirmedAt: { not: null } } })).toBe(1);

    const browser = new TestBrowser(off);
    const { verifier, challenge } = pkcePair();
    const state = randomToken();
    const nonce = randomToken();
    const login = await browser.get(authorizationUrl(off, { client, state, nonce, codeChallenge: challenge, extra: { acr_values: 'urn:gatehouse:acr:mfa' } }));
    expect(expectPage(login).html).not.toContain('Sign in with a passkey');
    const landing = await consent(browser, await signIn(browser, login, user.email));
    const claims = await idTokenClaims(await relyingParty(off, client), callbackOf(landing, client).url, { verifier, state, nonce });
    expect(claims.amr).toEqual(['pwd']);
    expect(claims.acr).toBe('urn:gatehouse:acr:single-factor');
    expect((await fetch(`${off.config.issuer}/account/security`)).status).toBe(404);
  });
});
