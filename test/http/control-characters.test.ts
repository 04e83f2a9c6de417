// Control characters in parameters are refused at the boundary (src/http/control-characters.ts)
// with 400 in the endpoint's own format: PostgreSQL refuses NUL in text, and such a value used
// to reach a query and answer 500 with a stack trace in the log.
import { basicAuth, postForm, type OAuthResponse } from '../support/oauth-http.js';
import { PROVIDERS } from '../support/databases.js';
import {
  TestBrowser,
  authorizationUrl,
  expectPage,
  formWithAction,
  pkcePair,
  registerClient,
  registerUser,
  signIn,
  type TestClient,
} from '../support/signin.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const NUL = '\u0000';
const STACK_TRACE = /at [\w.<>]+ \(|node_modules|\.ts:\d+|prisma/i;

type Page = { status: number; type: string; html: string };

async function getPage(url: string): Promise<Page> {
  const res = await fetch(url, { headers: { accept: 'text/html' }, redirect: 'manual' });
  return { status: res.status, type: res.headers.get('content-type') ?? '', html: await res.text() };
}

describe.each(PROVIDERS)('control characters in parameters on %s', (provider) => {
  const gh = useGatehouse(provider, { LOGIN_IP_LIMIT: '1000' });
  let web: TestClient;
  let auth: string;

  const expectInvalidRequest = (what: string, res: OAuthResponse, parameter: string) => {
    expect({ what, status: res.status, error: res.body.error }).toEqual({ what, status: 400, error: 'invalid_request' });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.error_description).toBe(`the ${parameter} parameter must not contain control characters`);
  };
  const expectFriendlyPage = (what: string, page: Page) => {
    expect({ what, status: page.status }).toEqual({ what, status: 400 });
    expect(page.type).toMatch(/^text\/html/);
    expect(page.html).toContain('The request contained characters that are not allowed');
    expect(page.html).not.toMatch(STACK_TRACE);
  };

  beforeAll(async () => {
    web = await registerClient(gh);
    auth = basicAuth(web.clientId, web.clientSecret!);
  });

  test('finding 15.5: a NUL at the token, introspection, revocation, device authorization and PAR endpoints is 400 invalid_request', async () => {
    const issuer = gh.config.issuer;
    const bad = `a${NUL}b`;
    expectInvalidRequest('token client_id', await postForm(`${issuer}/token`, { grant_type: 'client_credentials', client_id: bad, client_secret: 'x' }), 'client_id');
    const { verifier } = pkcePair();
    expectInvalidRequest(
      'token code',
      await postForm(`${issuer}/token`, { grant_type: 'authorization_code', code: bad, redirect_uri: web.redirectUri, code_verifier: verifier }, { authorization: auth }),
      'code',
    );
    expectInvalidRequest('token refresh_token', await postForm(`${issuer}/token`, { grant_type: 'refresh_token', refresh_token: bad }, { authorization: auth }), 'refresh_token');
    expectInvalidRequest('introspection token', await postForm(`${issuer}/token/introspection`, { token: bad }, { authorization: auth }), 'token');
    expectInvalidRequest('revocation token', await postForm(`${issuer}/token/revocation`, { token: bad }, { authorization: auth }), 'token');
    expectInvalidRequest('device authorization client_id', await postForm(`${issuer}/device/auth`, { client_id: bad, scope: 'openid' }), 'client_id');
    expectInvalidRequest(
      'PAR client_id',
      await postForm(`${issuer}/request`, { client_id: bad, client_secret: 'x', response_type: 'code', redirect_uri: web.redirectUri }),
      'client_id',
    );
    // Other C0 controls, in a value or in a parameter name, are refused the same way.
    expectInvalidRequest('token scope with ESC', await postForm(`${issuer}/token`, { grant_type: 'client_credentials', scope: '\u001b[2J' }, { authorization: auth }), 'scope');
    const named = await postForm(`${issuer}/token`, { grant_type: 'client_credentials', [`x${NUL}`]: '1' }, { authorization: auth });
    expect({ status: named.status, body: named.body }).toEqual({ status: 400, body: { error: 'invalid_request', error_description: 'a parameter name must not contain control characters' } });
    expect(gh.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)).toEqual([]);
  });

  test('finding 15.5: a NUL at /auth, /session/end and in the login email gets the friendly page with 400', async () => {
    const issuer = gh.config.issuer;
    const authorize = authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge });
    authorize.searchParams.set('client_id', `a${NUL}b`);
    expectFriendlyPage('/auth client_id', await getPage(authorize.toString()));
    const withState = authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge, state: `s${NUL}` });
    expectFriendlyPage('/auth state', await getPage(withState.toString()));
    expectFriendlyPage('/session/end client_id', await getPage(`${issuer}/session/end?client_id=a%00b`));
    expectFriendlyPage('an interaction id in the path', await getPage(`${issuer}/interaction/a%00b`));

    const browser = new TestBrowser(gh);
    const page = expectPage(await browser.get(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge })));
    const refused = expectPage(await browser.submit(formWithAction(page.html, '/login'), { email: `a${NUL}@example.com`, password: 'whatever password' }));
    expectFriendlyPage('login email', { status: refused.status, type: refused.headers.get('content-type') ?? '', html: refused.html });
    expect(gh.logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)).toEqual([]);
  });

  test('finding 15.5: tab and newline stay allowed where a value may hold them (JSON claims, a password)', async () => {
    const user = await registerUser(gh, { password: 'tab\there and\nnewline' });
    const claims = JSON.stringify({ id_token: { email: null } }, null, '\t');
    const browser = new TestBrowser(gh);
    const landing = await browser.get(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge, extra: { claims } }));
    const page = expectPage(landing);
    expect(page.status).toBe(200);
    const signedIn = await signIn(browser, page, user.email, 'tab\there and\nnewline');
    // Past the login: the consent page (or the client), not a refusal.
    expect(signedIn.kind === 'redirect' || formWithAction(signedIn.html, '/consent') !== undefined).toBe(true);
    // Elsewhere a tab is refused like any other control character.
    const res = await postForm(`${gh.config.issuer}/token`, { grant_type: 'client_credentials', scope: 'openid\tprofile' }, { authorization: auth });
    expectInvalidRequest('token scope with a tab', res, 'scope');
  });
});
