// The second factor on another door: the device flow's sign-in (RFC 8628). A device client that
// requires MFA: the person types the user code, signs in with the password, is asked for the
// second factor before the device confirmation, and the device's ID token says so.
import { decodeJwt } from 'jose';
import { PROVIDERS } from '../support/databases.js';
import { enrolTotp } from '../support/mfa.js';
import { PolitePoller, decide, enterCode, registerDeviceClient, startDeviceAuthorization } from '../support/device-flow.js';
import { TestBrowser, expectPage, formWithAction, registerUser, signIn } from '../support/signin.js';
import { useGatehouse } from '../support/use-gatehouse.js';

describe.each(PROVIDERS)('second factor in the device flow on %s', (provider) => {
  const gh = useGatehouse(provider, { DEVICE_POLL_INTERVAL: '1', LOGIN_IP_LIMIT: '1000' });

  test('a device client that requires MFA gets its tokens only after the second factor', async () => {
    const client = await registerDeviceClient(gh);
    await gh.db.prisma.client.update({ where: { id: client.clientId }, data: { requireMfa: true } });
    const user = await registerUser(gh);
    const authorization = await startDeviceAuthorization(gh, client);
    const device = new PolitePoller(gh, client, authorization.device_code);

    const browser = new TestBrowser(gh);
    const login = expectPage(await enterCode(browser, authorization.verification_uri, authorization.user_code));
    const enrol = expectPage(await signIn(browser, login, user.email));
    expect(enrol.html).toContain('Set up a second factor');
    // Not approved yet: the password alone does not reach the confirmation.
    expect((await device.poll()).body).toMatchObject({ error: 'authorization_pending' });

    const { next } = await enrolTotp(browser, enrol);
    const confirmation = expectPage(await browser.submit(formWithAction(expectPage(next).html, '/mfa/continue')));
    expect(confirmation.html).toContain('name="decision" value="approve"');
    expectPage(await decide(browser, confirmation, 'approve'));

    const tokens = await device.poll();
    expect(tokens.status).toBe(200);
    const idToken = decodeJwt(String(tokens.body.id_token));
    expect(idToken.amr).toEqual(['pwd', 'otp', 'mfa']);
    expect(idToken.acr).toBe('urn:gatehouse:acr:mfa');
  });
});
