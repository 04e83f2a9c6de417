// Polling the token endpoint with a device code (RFC 8628 §3.4, §3.5): authorization_pending,
// slow_down with an interval that grows by 5 s per too-early poll and is kept in the database,
// expired_token after the configured lifetime.
import { PROVIDERS } from '../support/databases.js';
import { TestBrowser, expectPage, registerUser } from '../support/signin.js';
import { decide, enterCode, pollOnce, reachConfirmation, registerDeviceClient, startDeviceAuthorization, textOf } from '../support/device-flow.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(PROVIDERS)('device polling on %s', (provider) => {
  describe('with the default 5 s interval', () => {
    const gh = useGatehouse(provider);

    const pollState = (id: string) => gh.db.prisma.deviceCode.findUniqueOrThrow({ where: { id }, select: { lastPolledAt: true, pollInterval: true } });

    test('a device polling every second gets slow_down, and its interval rises by 5 s each time', async () => {
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      expect(authorization.interval).toBe(5);

      const first = await pollOnce(gh, client, authorization.device_code);
      expect(first.status).toBe(400);
      expect(first.body).toMatchObject({ error: 'authorization_pending' });
      expect(await pollState(authorization.device_code)).toMatchObject({ pollInterval: 5, lastPolledAt: expect.any(Date) });

      const intervals: number[] = [];
      for (let i = 0; i < 3; i++) {
        await sleep(1000);
        const answer = await pollOnce(gh, client, authorization.device_code);
        expect(answer.status).toBe(400);
        expect(answer.body).toMatchObject({ error: 'slow_down', interval: expect.any(Number) });
        expect(answer.headers.get('cache-control')).toBe('no-store');
        intervals.push(Number(answer.body.interval));
      }
      expect(intervals).toEqual([10, 15, 20]);
      // The interval belongs to the device code, in the database (any instance sees it).
      expect((await pollState(authorization.device_code)).pollInterval).toBe(20);

      // A device that then waits the raised interval is answered normally again. The wait is
      // simulated by moving the recorded poll time back rather than sleeping 20 s.
      await gh.db.prisma.deviceCode.update({ where: { id: authorization.device_code }, data: { lastPolledAt: new Date(Date.now() - 21_000) } });
      expect((await pollOnce(gh, client, authorization.device_code)).body).toMatchObject({ error: 'authorization_pending' });
      expect((await pollState(authorization.device_code)).pollInterval).toBe(20);
      // But 6 s, which the original interval would have allowed, is now too soon.
      await gh.db.prisma.deviceCode.update({ where: { id: authorization.device_code }, data: { lastPolledAt: new Date(Date.now() - 6_000) } });
      expect((await pollOnce(gh, client, authorization.device_code)).body).toMatchObject({ error: 'slow_down', interval: 25 });
    });

    test('slow_down belongs to one device code: another code of the same client is not slowed', async () => {
      const client = await registerDeviceClient(gh);
      const hasty = await startDeviceAuthorization(gh, client);
      const calm = await startDeviceAuthorization(gh, client);
      await pollOnce(gh, client, hasty.device_code);
      expect((await pollOnce(gh, client, hasty.device_code)).body).toMatchObject({ error: 'slow_down', interval: 10 });
      expect((await pollOnce(gh, client, calm.device_code)).body).toMatchObject({ error: 'authorization_pending' });
      expect((await pollState(calm.device_code)).pollInterval).toBe(5);
    });

    test('concurrent polls of one code: exactly one is answered pending, the others slow_down', async () => {
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      const answers = await Promise.all(Array.from({ length: 5 }, () => pollOnce(gh, client, authorization.device_code)));
      const errors = answers.map((a) => a.body.error).sort();
      expect(errors).toEqual(['authorization_pending', 'slow_down', 'slow_down', 'slow_down', 'slow_down']);
      expect(answers.every((a) => a.status === 400)).toBe(true);
    });

    test('slow_down only stands in for pending: once approved, the next poll gets the tokens', async () => {
      const client = await registerDeviceClient(gh);
      const user = await registerUser(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      await pollOnce(gh, client, authorization.device_code);
      const browser = new TestBrowser(gh);
      await decide(browser, await reachConfirmation(browser, authorization, user.email), 'approve');
      const tokens = await pollOnce(gh, client, authorization.device_code);
      expect(tokens.status).toBe(200);
      expect(tokens.body).toHaveProperty('access_token');
    });

    test('an unknown device code gets invalid_grant, not slow_down', async () => {
      const client = await registerDeviceClient(gh);
      for (let i = 0; i < 2; i++) {
        const answer = await pollOnce(gh, client, 'not-a-device-code-at-all-0123456789abcdef');
        expect(answer.status).toBe(400);
        expect(answer.body).toMatchObject({ error: 'invalid_grant' });
      }
    });
  });

  describe('with a 2 s code lifetime', () => {
    const gh = useGatehouse(provider, { DEVICE_CODE_TTL: '2' });

    test('after the lifetime the device gets expired_token, and the person a page saying the code expired', async () => {
      const client = await registerDeviceClient(gh);
      const authorization = await startDeviceAuthorization(gh, client);
      await sleep(2100);
      const answer = await pollOnce(gh, client, authorization.device_code);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ error: 'expired_token' });
      // Again, still expired_token: the code is kept (unusable) so devices are told why.
      expect((await pollOnce(gh, client, authorization.device_code)).body).toMatchObject({ error: 'expired_token' });

      const page = expectPage(await enterCode(new TestBrowser(gh), authorization.verification_uri, authorization.user_code));
      expect(page.status).toBe(400);
      expect(textOf(page.html)).toContain('This code has expired');
      expect(page.html).not.toContain('/login"');
    });
  });
});
