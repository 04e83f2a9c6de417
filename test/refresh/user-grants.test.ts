// The service functions behind the admin CLI's grant commands: a person's grants with client,
// creation and last use; revocation of all of them or one client's, tokens included.
import { UserError } from '../../src/accounts/users.js';
import { listUserGrants, revokeUserGrants } from '../../src/oidc/user-grants.js';
import { PROVIDERS } from '../support/databases.js';
import { registerClient, registerUser, userinfo, type TestClient } from '../support/signin.js';
import { introspect, refresh, signInOffline, storedGrant } from '../support/refresh.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('user grants on %s', (provider) => {
  const gh = useGatehouse(provider);
  let notes: TestClient;
  let calendar: TestClient;
  beforeAll(async () => {
    notes = await registerClient(gh, { name: 'Notes' });
    calendar = await registerClient(gh, { name: 'Calendar' });
  });

  test('lists each grant with its client, when it was created and when it was last used', async () => {
    const user = await registerUser(gh);
    const bystander = await registerUser(gh);
    const n = await signInOffline(gh, notes, user.email);
    const c = await signInOffline(gh, calendar, user.email);
    await signInOffline(gh, notes, bystander.email);

    const before = await listUserGrants(gh.db.prisma, user.id);
    expect(before.map((g) => [g.grantId, g.clientId])).toEqual([
      [n.grantId, notes.clientId],
      [c.grantId, calendar.clientId],
    ]);
    for (const grant of before) {
      expect(grant.createdAt).toEqual(expect.any(Date));
      expect(grant.lastUsedAt.getTime()).toBeGreaterThanOrEqual(grant.createdAt.getTime());
      expect(grant.expiresAt).toEqual(expect.any(Date));
    }

    // A refresh is a use: last use becomes the time it minted its tokens.
    const rotated = await refresh(gh, notes, n.refreshToken);
    const minted = await Promise.all([
      gh.db.prisma.refreshToken.findUniqueOrThrow({ where: { id: rotated.body.refresh_token as string } }),
      gh.db.prisma.accessToken.findUniqueOrThrow({ where: { id: rotated.body.access_token as string } }),
    ]);
    const after = await listUserGrants(gh.db.prisma, user.id);
    const notesGrant = after.find((g) => g.grantId === n.grantId)!;
    expect(notesGrant.lastUsedAt.getTime()).toBe(Math.max(...minted.map((row) => row.createdAt.getTime())));
    expect(notesGrant.lastUsedAt.getTime()).toBeGreaterThan(before[0]!.lastUsedAt.getTime());
    expect(notesGrant.createdAt).toEqual(before[0]!.createdAt);
    expect(after.find((g) => g.grantId === c.grantId)).toEqual(before[1]);
  });

  test("revoking one client's grants ends its tokens and leaves the others", async () => {
    const user = await registerUser(gh);
    const n = await signInOffline(gh, notes, user.email);
    const c = await signInOffline(gh, calendar, user.email);

    expect(await revokeUserGrants(gh.db.prisma, user.id, notes.clientId)).toBe(1);

    expect(await storedGrant(gh, n.grantId)).toEqual({ grant: null, refreshTokens: [], accessTokens: [] });
    expect((await refresh(gh, notes, n.refreshToken)).body).toMatchObject({ error: 'invalid_grant' });
    expect((await introspect(gh, notes, n.accessToken)).body).toEqual({ active: false });
    expect((await userinfo(gh, n.accessToken)).status).toBe(401);

    expect((await refresh(gh, calendar, c.refreshToken)).status).toBe(200);
    expect((await listUserGrants(gh.db.prisma, user.id)).map((g) => g.clientId)).toEqual([calendar.clientId]);
  });

  test('revoking all of a person\'s grants ends every token, and no one else\'s', async () => {
    const user = await registerUser(gh);
    const other = await registerUser(gh);
    const mine = [await signInOffline(gh, notes, user.email), await signInOffline(gh, calendar, user.email)];
    const theirs = await signInOffline(gh, notes, other.email);

    expect(await revokeUserGrants(gh.db.prisma, user.id)).toBe(2);
    expect(await listUserGrants(gh.db.prisma, user.id)).toEqual([]);
    for (const signedIn of mine) {
      expect(await storedGrant(gh, signedIn.grantId)).toEqual({ grant: null, refreshTokens: [], accessTokens: [] });
    }
    expect((await refresh(gh, calendar, mine[1]!.refreshToken)).body).toMatchObject({ error: 'invalid_grant' });
    expect((await refresh(gh, notes, theirs.refreshToken)).status).toBe(200);

    // Nothing left to revoke.
    expect(await revokeUserGrants(gh.db.prisma, user.id)).toBe(0);
  });

  test('bad ids are refused with a clear error; an empty client id never means "every client"', async () => {
    const user = await registerUser(gh);
    const n = await signInOffline(gh, notes, user.email);
    await expect(revokeUserGrants(gh.db.prisma, user.id, '')).rejects.toThrow(new UserError('invalid', 'invalid client id', ['(input): must not be empty']));
    await expect(listUserGrants(gh.db.prisma, '')).rejects.toThrow(/invalid user id: \(input\): must not be empty/);
    expect((await storedGrant(gh, n.grantId)).grant).not.toBeNull();
    expect(await listUserGrants(gh.db.prisma, 'no-such-user')).toEqual([]);
    expect(await revokeUserGrants(gh.db.prisma, 'no-such-user')).toBe(0);
  });
});
