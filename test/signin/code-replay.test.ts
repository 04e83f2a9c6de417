// One authorization code exchanged by several requests at once (RFC 6749 §4.1.2: a code used
// more than once must be refused, and what it issued SHOULD be revoked). Whichever way a second
// use loses, reading the code already consumed or losing the adapter's conditional consume
// (src/db/oidc-adapter.ts), it is replay: the grant is revoked, the winner's tokens included,
// and code.replay_detected is audited.
import { createApi } from '../../src/clients/apis.js';
import { PROVIDERS } from '../support/databases.js';
import {
  TestBrowser,
  auditRows,
  authorizeAndSignIn,
  exchangeCode,
  registerClient,
  registerUser,
  tokenRequest,
  userinfo,
  type TestClient,
} from '../support/signin.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const CONCURRENT = 10;
const ORDERS = 'https://api.example.com/orders';
const ADMIN = 'https://api.example.com/admin';

describe.each(PROVIDERS)('authorization code replay on %s', (provider) => {
  const gh = useGatehouse(provider);
  let client: TestClient;
  beforeAll(async () => {
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    await createApi(gh.db.prisma, { identifier: ADMIN, name: 'Admin', scopes: ['admin'] });
    client = await registerClient(gh, { apis: [{ identifier: ORDERS, scopes: ['orders:read'] }] });
  });

  async function signedInCode(email: string) {
    // prompt=consent: offline_access is granted only with it, so the exchange issues a refresh token.
    return authorizeAndSignIn(gh, new TestBrowser(gh), client, email, { scope: 'openid email offline_access', extra: { prompt: 'consent' } });
  }

  // Several rounds: which way the losers lose depends on timing, and each way must revoke.
  test.each([1, 2, 3])('finding 15.11: %s: 10 concurrent exchanges of one code: one gets tokens, then the grant is revoked and replay audited', async () => {
    const user = await registerUser(gh);
    const { callback, verifier } = await signedInCode(user.email);
    const results = await Promise.all(Array.from({ length: CONCURRENT }, () => exchangeCode(gh, client, callback.code!, verifier)));

    const winners = results.filter((r) => r.status === 200);
    expect(winners).toHaveLength(1);
    for (const loser of results.filter((r) => r.status !== 200)) {
      expect(loser.status).toBe(400);
      expect(loser.body).toMatchObject({ error: 'invalid_grant' });
    }

    const tokens = winners[0]!.body;
    expect(tokens.refresh_token).toEqual(expect.any(String));
    // What the code issued no longer works.
    expect((await userinfo(gh, tokens.access_token as string)).status).toBe(401);
    const refreshed = await tokenRequest(gh, client, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
    expect(refreshed.body).toMatchObject({ error: 'invalid_grant' });

    // Each loser that saw the code (consumed, lost the consume, or found its grant revoked) is
    // audited; one that came after the revocation deleted the code reads as an unknown code.
    const rows = await auditRows(gh, 'code.replay_detected', { subject: user.id });
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows.length).toBeLessThanOrEqual(CONCURRENT - 1);
    for (const row of rows) {
      expect(row).toMatchObject({ outcome: 'failure', clientId: client.clientId, details: expect.objectContaining({ action: 'grant revoked' }) });
    }
    expect(JSON.stringify(rows)).not.toContain(callback.code!);
  });

  test('finding 15.11: a code replayed later is audited as replay too', async () => {
    const user = await registerUser(gh);
    const { callback, verifier } = await signedInCode(user.email);
    expect((await exchangeCode(gh, client, callback.code!, verifier)).status).toBe(200);
    expect((await exchangeCode(gh, client, callback.code!, verifier)).body).toMatchObject({ error: 'invalid_grant' });
    const rows = await auditRows(gh, 'code.replay_detected', { subject: user.id });
    expect(rows).toHaveLength(1);
    expect(rows[0]?.details).toMatchObject({ action: 'grant revoked' });
  });

  // Attack classes, side effects before validation: a refused exchange must not consume the
  // code, or the client's corrected retry is taken for replay and revokes the grant.
  test.each([
    ['an API the client may not use', ADMIN],
    ['an unknown resource', 'https://unknown.example.com/'],
    ['an API the client may use but the person did not grant', ORDERS],
  ])('finding 15.11: an exchange naming %s is refused without consuming the code', async (_what, resource) => {
    const user = await registerUser(gh);
    const { callback, verifier } = await signedInCode(user.email);
    const refused = await tokenRequest(gh, client, { grant_type: 'authorization_code', code: callback.code!, redirect_uri: client.redirectUri, code_verifier: verifier, resource });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_target' });
    const retry = await exchangeCode(gh, client, callback.code!, verifier);
    expect(retry.status).toBe(200);
    expect((await userinfo(gh, retry.body.access_token as string)).status).toBe(200);
    expect(await gh.db.prisma.auditEvent.count({ where: { type: 'code.replay_detected', subject: user.id } })).toBe(0);
  });
});
