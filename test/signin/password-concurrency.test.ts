// Sign-in's argon2 work is queued (PASSWORD_HASH_CONCURRENCY, src/accounts/passwords.ts): many
// sign-ins at once, with the queue at its narrowest, all still end as they would one by one —
// right passwords in tokens, wrong ones and unknown emails in the generic refusal.
import { PROVIDERS } from '../support/databases.js';
import {
  TestBrowser,
  authorizeAndSignIn,
  authorizationUrl,
  exchangeCode,
  expectPage,
  pkcePair,
  randomToken,
  registerClient,
  registerUser,
  signIn,
} from '../support/signin.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const AT_ONCE = 16;

let addressCounter = 0;
/** A documentation address (RFC 5737), one per browser, so per-address limits stay out of the way. */
function newAddress(): string {
  addressCounter += 1;
  return `198.51.100.${addressCounter}`;
}

describe.each(PROVIDERS)('sign-ins queued for password hashing on %s', (provider) => {
  const gh = useGatehouse(provider, { TRUST_PROXY: 'true', PASSWORD_HASH_CONCURRENCY: '1' });
  const client = useBeforeAll(() => registerClient(gh));

  test(`${AT_ONCE} people signing in at once through one hashing slot all get their tokens`, async () => {
    expect(gh.config.passwordHashConcurrency).toBe(1);
    const users = await Promise.all(Array.from({ length: AT_ONCE }, () => registerUser(gh)));
    const outcomes = await Promise.all(
      users.map(async (user) => {
        const browser = new TestBrowser(gh, { 'x-forwarded-for': newAddress() });
        const { callback, verifier } = await authorizeAndSignIn(gh, browser, client, user.email, { scope: 'openid email' });
        const token = await exchangeCode(gh, client, callback.code!, verifier);
        return { status: token.status, idToken: token.body.id_token };
      }),
    );
    for (const outcome of outcomes) {
      expect(outcome.status).toBe(200);
      expect(typeof outcome.idToken).toBe('string');
    }
  });

  test('wrong passwords and unknown emails queued among right ones are each refused, and only they', async () => {
    const users = await Promise.all(Array.from({ length: AT_ONCE / 2 }, () => registerUser(gh)));
    const attempts = [
      ...users.map((user) => ({ email: user.email, password: undefined, right: true })),
      ...users.slice(0, AT_ONCE / 4).map((user) => ({ email: user.email, password: `not the password ${randomToken()}`, right: false })),
      ...Array.from({ length: AT_ONCE / 4 }, () => ({ email: `nobody-${randomToken().toLowerCase()}@example.com`, password: 'no account has this password', right: false })),
    ];
    const landings = await Promise.all(
      attempts.map(async ({ email, password }) => {
        const browser = new TestBrowser(gh, { 'x-forwarded-for': newAddress() });
        const page = expectPage(await browser.get(authorizationUrl(gh, { client, codeChallenge: pkcePair().challenge })));
        return signIn(browser, page, email, password);
      }),
    );
    landings.forEach((landing, i) => {
      const page = expectPage(landing);
      if (attempts[i]!.right) expect(page.html).toContain('/consent"');
      else expect(page.html).toContain('Invalid email or password.');
    });
  });
});
