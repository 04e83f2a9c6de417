// Refresh token reuse (RFC 9700 §4.14.2): a rotated token presented again fails and revokes the
// whole grant, the token it was rotated to included, with an audit event naming client and user.
// Within the reuse grace window (REFRESH_TOKEN_REUSE_GRACE, src/oidc/refresh-tokens.ts) a second
// use is refused without revoking; once the window is over, reuse revokes again.
import { PROVIDERS } from '../support/databases.js';
import { auditRows, registerClient, registerUser, userinfo } from '../support/signin.js';
import { introspect, refresh, signInOffline, storedGrant, waitUntilPast } from '../support/refresh.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('refresh token reuse on %s', (provider) => {
  describe('strict (no grace window)', () => {
    const gh = useGatehouse(provider, { REFRESH_TOKEN_REUSE_GRACE: '0' });
    const client = useBeforeAll(() => registerClient(gh));

    test('reusing a rotated token fails and kills the token it was rotated to, and every access token of the grant', async () => {
      const user = await registerUser(gh);
      const first = await signInOffline(gh, client, user.email);
      const tokenA = first.refreshToken;

      const rotated = await refresh(gh, client, tokenA);
      expect(rotated.status).toBe(200);
      const tokenB = rotated.body.refresh_token as string;
      const accessFromRefresh = rotated.body.access_token as string;
      expect(tokenB).not.toBe(tokenA);

      // Before the reuse everything of the grant is alive.
      expect((await introspect(gh, client, tokenB)).body).toMatchObject({ active: true, sub: user.id, client_id: client.clientId });
      expect((await introspect(gh, client, first.accessToken)).body).toMatchObject({ active: true });
      expect((await introspect(gh, client, accessFromRefresh)).body).toMatchObject({ active: true });
      const before = await storedGrant(gh, first.grantId);
      expect(before.grant).not.toBeNull();
      expect(before.refreshTokens.map((t) => t.id).sort()).toEqual([tokenA, tokenB].sort());
      expect(before.accessTokens).toHaveLength(2);

      const reuse = await refresh(gh, client, tokenA);
      expect(reuse.status).toBe(400);
      expect(reuse.body).toMatchObject({ error: 'invalid_grant' });
      expect(reuse.headers.get('cache-control')).toBe('no-store');

      // B, and both access tokens, are dead: at introspection (RFC 7662 §2.2 inactive)...
      for (const token of [tokenA, tokenB, first.accessToken, accessFromRefresh]) {
        expect((await introspect(gh, client, token)).body).toEqual({ active: false });
      }
      // ...at the token endpoint and at userinfo...
      expect((await refresh(gh, client, tokenB)).body).toMatchObject({ error: 'invalid_grant' });
      expect((await userinfo(gh, accessFromRefresh)).status).toBe(401);
      // ...and in the database: the grant and every token it issued are gone.
      const after = await storedGrant(gh, first.grantId);
      expect(after).toEqual({ grant: null, refreshTokens: [], accessTokens: [] });

      const [event] = await auditRows(gh, 'refresh.reuse_detected', { subject: user.id });
      expect(event).toMatchObject({ outcome: 'failure', subject: user.id, clientId: client.clientId });
      expect(event!.details).toEqual({ grantId: first.grantId, action: 'grant revoked' });
      // The audit trail never carries token values.
      expect(JSON.stringify(event)).not.toContain(tokenA);
    });

    test("reuse revokes only that grant: the same person's other sign-in keeps working", async () => {
      const user = await registerUser(gh);
      const victim = await signInOffline(gh, client, user.email);
      const other = await signInOffline(gh, client, user.email);
      expect(other.grantId).not.toBe(victim.grantId);

      await refresh(gh, client, victim.refreshToken);
      expect((await refresh(gh, client, victim.refreshToken)).body).toMatchObject({ error: 'invalid_grant' });
      expect((await storedGrant(gh, victim.grantId)).grant).toBeNull();

      expect((await refresh(gh, client, other.refreshToken)).status).toBe(200);
      expect((await storedGrant(gh, other.grantId)).grant).not.toBeNull();
    });
  });

  describe('within the grace window', () => {
    // A window far longer than the test, so the outcome does not depend on timing.
    const gh = useGatehouse(provider, { REFRESH_TOKEN_REUSE_GRACE: '60s' });
    const client = useBeforeAll(() => registerClient(gh));

    test('a second use soon after rotation is refused, the grant is kept, and it is audited', async () => {
      const user = await registerUser(gh);
      const first = await signInOffline(gh, client, user.email);
      const rotated = await refresh(gh, client, first.refreshToken);
      expect(rotated.status).toBe(200);
      const tokenB = rotated.body.refresh_token as string;

      const again = await refresh(gh, client, first.refreshToken);
      expect(again.status).toBe(400);
      expect(again.body).toMatchObject({ error: 'invalid_grant' });

      // Nothing was revoked: B, the access tokens and the grant live on.
      expect((await introspect(gh, client, tokenB)).body).toMatchObject({ active: true });
      expect((await introspect(gh, client, rotated.body.access_token as string)).body).toMatchObject({ active: true });
      const stored = await storedGrant(gh, first.grantId);
      expect(stored.grant).not.toBeNull();
      expect(stored.refreshTokens).toHaveLength(2);
      expect(stored.refreshTokens.find((t) => t.id === first.refreshToken)?.consumedAt).toEqual(expect.any(Date));
      expect((await refresh(gh, client, tokenB)).status).toBe(200);

      const [event] = await auditRows(gh, 'refresh.reuse_detected', { subject: user.id });
      expect(event).toMatchObject({ outcome: 'failure', clientId: client.clientId });
      expect(event!.details).toEqual({ grantId: first.grantId, action: 'refused; grant kept (reused within the grace window)' });
    });
  });

  describe('after the grace window', () => {
    const gh = useGatehouse(provider, { REFRESH_TOKEN_REUSE_GRACE: '1s' });
    const client = useBeforeAll(() => registerClient(gh));

    test('reuse once the window has passed revokes the grant', async () => {
      const user = await registerUser(gh);
      const first = await signInOffline(gh, client, user.email);
      const rotated = await refresh(gh, client, first.refreshToken);
      const tokenB = rotated.body.refresh_token as string;
      const consumedAt = (await gh.db.prisma.refreshToken.findUnique({ where: { id: first.refreshToken } }))!.consumedAt!;

      // The window is counted in whole seconds from the rotation: past it for certain.
      await waitUntilPast(Math.floor(consumedAt.getTime() / 1000) + 2);
      expect((await refresh(gh, client, first.refreshToken)).body).toMatchObject({ error: 'invalid_grant' });
      expect((await introspect(gh, client, tokenB)).body).toEqual({ active: false });
      expect(await storedGrant(gh, first.grantId)).toEqual({ grant: null, refreshTokens: [], accessTokens: [] });
      const [event] = await auditRows(gh, 'refresh.reuse_detected', { subject: user.id });
      expect(event!.details).toMatchObject({ action: 'grant revoked' });
    });
  });
});
