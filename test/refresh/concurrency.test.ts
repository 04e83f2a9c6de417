// One refresh token presented by N simultaneous requests: exactly one success, the rest
// invalid_grant, never a 5xx (RFC 9700 §4.14.2). oidc-provider checks `consumed` and consumes in
// two steps; the adapter's conditional consume (src/db/oidc-adapter.ts) is what keeps a second
// request from passing both. Losers that arrive after the winner's rotation fall in the reuse
// grace window (src/oidc/refresh-tokens.ts), so the winner's new token survives its own client's
// parallel requests; with the window off, such a late loser revokes the grant (strict rule).
// On PostgreSQL the losers typically lose at the conditional update; on SQLite the in-process
// driver answers synchronously, so one request runs from its check to its consume without
// yielding and the others arrive after the rotation (there the conditional update guards
// several processes sharing one file: test/db/adapter-contract.test.ts).
import { PROVIDERS } from '../support/databases.js';
import type { TestGatehouse } from '../support/gatehouse.js';
import { auditRows, registerClient, registerUser, type TestClient } from '../support/signin.js';
import type { TokenResponse } from '../support/signin.js';
import { introspect, refresh, signInOffline, storedGrant } from '../support/refresh.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const N = 20;

function tally(responses: TokenResponse[]) {
  return {
    successes: responses.filter((r) => r.status === 200),
    invalidGrant: responses.filter((r) => r.status === 400 && r.body.error === 'invalid_grant'),
    serverErrors: responses.filter((r) => r.status >= 500),
    statuses: responses.map((r) => r.status).sort(),
  };
}

async function storm(gh: TestGatehouse, client: TestClient, token: string): Promise<TokenResponse[]> {
  // Open N keep-alive connections first, so that the N refreshes leave together instead of
  // queueing behind connection set-up: the more they overlap, the harder the race.
  await Promise.all(
    Array.from({ length: N }, async () => (await fetch(`${gh.config.issuer}/.well-known/openid-configuration`)).arrayBuffer()),
  );
  return Promise.all(Array.from({ length: N }, () => refresh(gh, client, token)));
}

describe.each(PROVIDERS)('%d concurrent refreshes with one token on %s'.replace('%d', String(N)), (provider) => {
  describe('with the reuse grace window', () => {
    // The window is set far longer than a storm can take, so a slow machine cannot turn a
    // late loser into a revocation; the window's own end is tested in reuse.test.ts.
    const gh = useGatehouse(provider, { REFRESH_TOKEN_REUSE_GRACE: '60s' });
    const client = useBeforeAll(() => registerClient(gh));

    test('exactly one succeeds, the others get invalid_grant, and the winner keeps a working token', async () => {
      const user = await registerUser(gh);
      const first = await signInOffline(gh, client, user.email);

      const { successes, invalidGrant, serverErrors, statuses } = tally(await storm(gh, client, first.refreshToken));
      expect(serverErrors).toEqual([]);
      expect(successes).toHaveLength(1);
      expect(invalidGrant).toHaveLength(N - 1);
      expect(statuses).toEqual([200, ...Array<number>(N - 1).fill(400)]);

      const winner = successes[0]!.body;
      const tokenB = winner.refresh_token as string;
      // Exactly one rotation happened: the presented token, consumed, and one new token.
      const stored = await storedGrant(gh, first.grantId);
      expect(stored.grant).not.toBeNull();
      expect(stored.refreshTokens.map((t) => t.id).sort()).toEqual([first.refreshToken, tokenB].sort());
      expect(stored.refreshTokens.find((t) => t.id === first.refreshToken)!.consumedAt).toEqual(expect.any(Date));
      expect(stored.refreshTokens.find((t) => t.id === tokenB)!.consumedAt).toBeNull();
      // One access token from the code exchange, one from the winner.
      expect(stored.accessTokens).toHaveLength(2);

      // The winner's tokens work; no loser revoked them.
      expect((await introspect(gh, client, winner.access_token as string)).body).toMatchObject({ active: true });
      expect((await introspect(gh, client, first.accessToken)).body).toMatchObject({ active: true });
      const next = await refresh(gh, client, tokenB);
      expect(next.status).toBe(200);

      // Every loser is on the audit trail, none as a revocation.
      const events = await auditRows(gh, 'refresh.reuse_detected', { subject: user.id }, N - 1);
      expect(events).toHaveLength(N - 1);
      for (const event of events) {
        expect(event).toMatchObject({ clientId: client.clientId, outcome: 'failure' });
        expect((event.details as { action: string }).action).toMatch(/^refused; grant kept/);
      }
    });
  });

  describe('strict (no grace window)', () => {
    const gh = useGatehouse(provider, { REFRESH_TOKEN_REUSE_GRACE: '0' });
    const client = useBeforeAll(() => registerClient(gh));

    test('still exactly one success and never a 5xx; a later reuse revokes the whole grant', async () => {
      const user = await registerUser(gh);
      const first = await signInOffline(gh, client, user.email);

      const responses = await storm(gh, client, first.refreshToken);
      const { successes, invalidGrant, serverErrors } = tally(responses);
      expect(serverErrors).toEqual([]);
      expect(successes).toHaveLength(1);
      expect(invalidGrant).toHaveLength(N - 1);

      // Whether a loser arrived late enough to count as replay depends on scheduling; either way
      // the state is consistent: a revocation kills the winner's token, otherwise it works.
      const revocations = (await gh.db.prisma.auditEvent.findMany({ where: { type: 'refresh.reuse_detected', subject: user.id } })).filter(
        (e) => (e.details as { action: string }).action === 'grant revoked',
      );
      const tokenB = successes[0]!.body.refresh_token as string;
      if (revocations.length > 0) {
        expect((await storedGrant(gh, first.grantId)).grant).toBeNull();
      } else {
        // A replay now, with the window off, revokes for certain.
        expect((await refresh(gh, client, first.refreshToken)).body).toMatchObject({ error: 'invalid_grant' });
      }
      expect((await introspect(gh, client, tokenB)).body).toEqual({ active: false });
      expect((await refresh(gh, client, tokenB)).body).toMatchObject({ error: 'invalid_grant' });
      expect(await storedGrant(gh, first.grantId)).toEqual({ grant: null, refreshTokens: [], accessTokens: [] });
    });
  });
});
