// What a refresh token is bound to: its client (RFC 6749 §6: "the refresh token was issued to the
// authenticated client"), its scope (which a refresh may narrow but never widen), and a person
// and client that are still enabled.
import { setUserDisabled } from '../../src/accounts/users.js';
import { setClientDisabled } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { auditRows, registerClient, registerUser, userinfo } from '../support/signin.js';
import { OFFLINE_SCOPE, introspect, refresh, signInOffline } from '../support/refresh.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('refresh token binding on %s', (provider) => {
  const gh = useGatehouse(provider);
  const client = useBeforeAll(() => registerClient(gh));

  const consumedAt = async (token: string) => (await gh.db.prisma.refreshToken.findUnique({ where: { id: token } }))?.consumedAt;

  test('another client cannot use it, and the attempt does not spend it', async () => {
    const thief = await registerClient(gh, { name: 'Thief' });
    const user = await registerUser(gh);
    const { refreshToken } = await signInOffline(gh, client, user.email);

    const stolen = await refresh(gh, thief, refreshToken);
    expect(stolen.status).toBe(400);
    expect(stolen.body).toMatchObject({ error: 'invalid_grant' });
    expect(stolen.body.access_token).toBeUndefined();
    expect(await consumedAt(refreshToken)).toBeNull();

    expect((await refresh(gh, client, refreshToken)).status).toBe(200);
  });

  test('scope may shrink on a refresh: the access token gets less, the refresh token keeps its scope', async () => {
    const user = await registerUser(gh);
    const { refreshToken } = await signInOffline(gh, client, user.email);

    const narrowed = await refresh(gh, client, refreshToken, 'openid email');
    expect(narrowed.status).toBe(200);
    expect(narrowed.body.scope).toBe('openid email');
    const accessToken = narrowed.body.access_token as string;
    expect((await introspect(gh, client, accessToken)).body).toMatchObject({ active: true, scope: 'openid email' });
    const claims = (await userinfo(gh, accessToken)).body;
    expect(claims).toMatchObject({ sub: user.id, email: user.email });
    expect(claims.name).toBeUndefined();

    // RFC 6749 §6: the new refresh token's scope is identical to the presented one's, and a
    // refresh without `scope` gets everything originally granted.
    const next = narrowed.body.refresh_token as string;
    expect((await introspect(gh, client, next)).body).toMatchObject({ active: true, scope: OFFLINE_SCOPE });
    const full = await refresh(gh, client, next);
    expect(full.status).toBe(200);
    expect(full.body.scope).toBe(OFFLINE_SCOPE);
    expect((await userinfo(gh, full.body.access_token as string)).body).toMatchObject({ name: 'Ada Lovelace' });
  });

  test('scope never grows on a refresh: invalid_scope, and the token is not spent', async () => {
    const user = await registerUser(gh);
    // Granted without profile; the client itself would be allowed it.
    const { refreshToken } = await signInOffline(gh, client, user.email, 'openid email offline_access');

    const wider = await refresh(gh, client, refreshToken, 'openid email profile offline_access');
    expect(wider.status).toBe(400);
    expect(wider.body).toMatchObject({ error: 'invalid_scope' });
    expect(await consumedAt(refreshToken)).toBeNull();

    const same = await refresh(gh, client, refreshToken);
    expect(same.status).toBe(200);
    expect(same.body.scope).toBe('openid email offline_access');
  });

  test('a disabled user cannot refresh (audited); enabled again, the same token works', async () => {
    const user = await registerUser(gh);
    const { refreshToken, accessToken } = await signInOffline(gh, client, user.email);

    await setUserDisabled(gh.db.prisma, user.id, true);
    const refused = await refresh(gh, client, refreshToken);
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: 'invalid_grant' });
    expect(await consumedAt(refreshToken)).toBeNull();
    expect((await userinfo(gh, accessToken)).status).toBe(401);
    const [event] = await auditRows(gh, 'refresh.account_refused', { subject: user.id });
    expect(event).toMatchObject({ outcome: 'failure', clientId: client.clientId });
    expect(event!.details).toMatchObject({ reason: 'user disabled or deleted' });

    await setUserDisabled(gh.db.prisma, user.id, false);
    expect((await refresh(gh, client, refreshToken)).status).toBe(200);
  });

  test('a disabled client cannot refresh (invalid_client, audited); enabled again, the same token works', async () => {
    const app = await registerClient(gh, { name: 'Suspended App' });
    const user = await registerUser(gh);
    const { refreshToken } = await signInOffline(gh, app, user.email);

    await setClientDisabled(gh.db.prisma, app.clientId, true);
    const refused = await refresh(gh, app, refreshToken);
    expect(refused.status).toBe(401);
    expect(refused.body).toMatchObject({ error: 'invalid_client' });
    expect(await consumedAt(refreshToken)).toBeNull();
    const [event] = await auditRows(gh, 'client.auth_failed', { clientId: app.clientId });
    expect(event).toMatchObject({ outcome: 'failure', clientId: app.clientId });
    expect(event!.details).toMatchObject({ endpoint: 'token' });

    await setClientDisabled(gh.db.prisma, app.clientId, false);
    expect((await refresh(gh, app, refreshToken)).status).toBe(200);
  });
});
