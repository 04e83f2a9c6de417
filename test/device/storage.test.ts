// How device codes are stored: expired ones stay findable (unusable) until swept an hour later,
// so a late poll is told expired_token; oidc-provider's saves never touch the polling columns.
import { randomUUID } from 'node:crypto';
import { createOidcAdapter } from '../../src/db/oidc-adapter.js';
import { EXPIRED_DEVICE_CODE_RETENTION_SECONDS, sweepExpiredArtifacts } from '../../src/db/sweeper.js';
import { PROVIDERS } from '../support/databases.js';
import { registerDeviceClient, startDeviceAuthorization } from '../support/device-flow.js';
import { replayRefusal } from '../../src/oidc/replay-refusal.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('device code storage on %s', (provider) => {
  const gh = useGatehouse(provider);

  async function expire(id: string, secondsAgo: number) {
    const row = await gh.db.prisma.deviceCode.findUniqueOrThrow({ where: { id } });
    const exp = Math.floor(Date.now() / 1000) - secondsAgo;
    await gh.db.prisma.deviceCode.update({
      where: { id },
      data: { expiresAt: new Date(exp * 1000), payload: { ...(row.payload as Record<string, unknown>), exp } },
    });
  }

  test('an expired device code is found only by lookups that check expiry themselves', async () => {
    const client = await registerDeviceClient(gh);
    const { device_code: id, user_code: userCode } = await startDeviceAuthorization(gh, client);
    // Past oidc-provider's clock tolerance (15 s), which lookups without ignoreExpiration allow.
    await expire(id, 60);
    expect(await gh.provider().DeviceCode.find(id)).toBeUndefined();
    const late = await gh.provider().DeviceCode.find(id, { ignoreExpiration: true });
    expect(late?.isExpired).toBe(true);
    expect(await gh.provider().DeviceCode.findByUserCode(userCode.replace('-', ''))).toBeUndefined();
    expect((await gh.provider().DeviceCode.findByUserCode(userCode.replace('-', ''), { ignoreExpiration: true }))?.isExpired).toBe(true);
    // Other models stay invisible once expired.
    const sessions = new (createOidcAdapter(gh.db, async () => undefined, replayRefusal))('Session');
    const sessionId = randomUUID();
    await sessions.upsert(sessionId, { uid: randomUUID() }, 60);
    await gh.db.prisma.session.update({ where: { id: sessionId }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await sessions.find(sessionId)).toBeUndefined();
  });

  test('the sweeper keeps an expired device code for an hour, then removes it', async () => {
    const client = await registerDeviceClient(gh);
    const recent = await startDeviceAuthorization(gh, client);
    const old = await startDeviceAuthorization(gh, client);
    await expire(recent.device_code, 60);
    await expire(old.device_code, EXPIRED_DEVICE_CODE_RETENTION_SECONDS + 60);
    await sweepExpiredArtifacts(gh.db.prisma);
    expect(await gh.db.prisma.deviceCode.count({ where: { id: recent.device_code } })).toBe(1);
    expect(await gh.db.prisma.deviceCode.count({ where: { id: old.device_code } })).toBe(0);
  });

  test("oidc-provider's saves of a device code keep its polling state", async () => {
    const client = await registerDeviceClient(gh);
    const { device_code: id } = await startDeviceAuthorization(gh, client);
    const polledAt = new Date(Date.now() - 3000);
    await gh.db.prisma.deviceCode.update({ where: { id }, data: { lastPolledAt: polledAt, pollInterval: 15 } });
    const code = await gh.provider().DeviceCode.find(id);
    expect(code).toBeDefined();
    code!.inFlight = true;
    await code!.save();
    expect(await gh.db.prisma.deviceCode.findUniqueOrThrow({ where: { id }, select: { lastPolledAt: true, pollInterval: true } })).toEqual({
      lastPolledAt: polledAt,
      pollInterval: 15,
    });
  });
});
