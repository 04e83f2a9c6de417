// Generated bad input against every endpoint (issue 9, item 5): authorization, token (each
// grant), device authorization and code entry, introspection, revocation, userinfo, the
// interaction forms and logout. Whatever arrives: never a 5xx, never internals in the answer,
// the process keeps serving (/healthz), and OAuth JSON errors use the codes RFC 6749 §5.2,
// RFC 7009, RFC 7662, RFC 6750 §3.1 and RFC 8628 §3.5 define for the endpoint.
import fc from 'fast-check';
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { basicAuth } from '../support/oauth-http.js';
import { PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { scaled } from '../support/process.js';
import {
  TestBrowser,
  authorizationUrl,
  expectPage,
  formWithAction,
  pkcePair,
  registerClient,
  registerUser,
  signIn,
  type PageForm,
  type TestClient,
} from '../support/signin.js';
import { report } from './helpers.js';

const ORDERS = 'https://api.example.com/orders';
/** Per database: the suite runs on both, with half the runs each, so its length stays the same. */
const RUNS = scaled(30, 250);
const INTERNALS = /prisma|at [\w.<>]+ \(|node_modules|\.ts:\d+|\.js:\d+|SQLITE|ECONN|TypeError|ReferenceError|Cannot read prop/i;

/** Error codes each protocol endpoint may answer with (429 and 503 are temporarily_unavailable). */
const TOKEN_ERRORS = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'authorization_pending',
  'slow_down',
  'expired_token',
  'access_denied',
  'temporarily_unavailable',
];
const ENDPOINT_ERRORS: Record<string, string[]> = {
  token: TOKEN_ERRORS,
  // OpenID Connect Core §6.2 codes too: the device authorization request takes `request`/`request_uri`.
  device_authorization: [
    'invalid_request', 'invalid_client', 'unauthorized_client', 'invalid_scope', 'invalid_target', 'temporarily_unavailable',
    'request_not_supported', 'request_uri_not_supported', 'invalid_request_object', 'invalid_request_uri',
  ],
  introspection: ['invalid_request', 'invalid_client', 'temporarily_unavailable'],
  revocation: ['invalid_request', 'invalid_client', 'unsupported_token_type', 'temporarily_unavailable'],
  userinfo: ['invalid_request', 'invalid_token', 'insufficient_scope', 'temporarily_unavailable'],
};

const GRANT_TYPES = ['authorization_code', 'client_credentials', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'password', 'implicit'];
const PARAMS = [
  'grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'resource', 'device_code', 'client_id', 'client_secret',
  'client_assertion', 'client_assertion_type', 'token', 'token_type_hint', 'response_type', 'state', 'nonce', 'code_challenge',
  'code_challenge_method', 'prompt', 'max_age', 'request', 'request_uri', 'response_mode', 'claims', 'ui_locales', 'login_hint',
  'id_token_hint', 'post_logout_redirect_uri', 'logout', 'xsrf', 'user_code', 'confirm', 'abort', 'email', 'password', 'csrf', 'decision',
];

/** C0 controls and DEL (PostgreSQL refuses NUL in text: finding 15.5), and what sits near them. */
const controlChar = fc.constantFrom('\u0000', '\u0001', '\u0007', '\t', '\n', '\r', '\u000b', '\u001b', '\u001f', '\u007f', '\u0085', '%00');
const controlString = fc.oneof(
  fc.string({ unit: fc.oneof(controlChar, fc.constantFrom('a', 'Z', '0', '-', '%', ' ')), maxLength: 12 }),
  // A plausible value with a control character inside: reaches lookups the way a real id would.
  fc.tuple(fc.string({ unit: fc.constantFrom('a', 'b', '1', '_', '-'), maxLength: 30 }), controlChar, fc.string({ maxLength: 10 })).map(([a, c, b]) => `${a}${c}${b}`),
);

/** Values that have broken parsers before: long, unicode, control characters, numbers, JSON, URLs. */
const nastyString = fc.oneof(
  controlString,
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', ' ', '\u0000', '%', '%zz', '../..', 'null', 'undefined', '[]', '{}', '{"a":1}', '-1', '1e309', 'NaN', '0x10',
    'http://127.0.0.1:8765/callback', 'openid offline_access', 'openid profile email', ORDERS, 'S256', 'plain', 'code', 'consent', 'none',
    'a'.repeat(3000), '\ud800', 'É'.repeat(50), 'yes', 'true', 'allow', 'deny'),
  fc.constantFrom(...GRANT_TYPES),
);

const formArb = fc.dictionary(fc.oneof(fc.constantFrom(...PARAMS), fc.string({ maxLength: 12 })), fc.oneof(nastyString, fc.array(nastyString, { minLength: 2, maxLength: 3 })), { maxKeys: 8 });

type Body = { kind: 'form'; fields: Record<string, string | string[]> } | { kind: 'raw'; contentType: string; text: string };
const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  { weight: 4, arbitrary: formArb.map((fields) => ({ kind: 'form' as const, fields })) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data', 'application/xml', ''),
      text: fc.oneof(fc.json(), fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 })),
    }),
  },
);

function encodeForm(fields: Record<string, string | string[]>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) for (const v of Array.isArray(value) ? value : [value]) params.append(key, v);
  return params.toString();
}

describe.each(PROVIDERS)('generated bad input at every endpoint on %s', (provider) => {
  let gh: TestGatehouse;
  let web: TestClient;
  let service: { id: string; secret: string };
  let deviceClient: string;
  let pending: { browser: TestBrowser; login: PageForm; uid: string };
  let consentPending: { browser: TestBrowser; consent: PageForm; uid: string };
  let signedIn: TestBrowser;
  const seen = { requests: 0, byStatus: new Map<number, number>() };

  type Auth = 'none' | 'web' | 'service' | 'wrong' | 'garbage' | 'control';
  const authOf = fc.constantFrom<Auth>('none', 'web', 'service', 'wrong', 'garbage', 'control');
  const authorization = (auth: Auth): Record<string, string> => {
    switch (auth) {
      case 'web':
        return { authorization: basicAuth(web.clientId, web.clientSecret!) };
      case 'service':
        return { authorization: basicAuth(service.id, service.secret) };
      case 'wrong':
        return { authorization: basicAuth(service.id, 'not-the-secret') };
      case 'garbage':
        return { authorization: 'Basic %%%not-base64' };
      case 'control':
        return { authorization: basicAuth(`${service.id}\u0000`, service.secret) };
      default:
        return {};
    }
  };

  async function send(url: string, init: { method: string; body?: Body; headers?: Record<string, string>; browser?: TestBrowser }) {
    const headers: Record<string, string> = { ...init.headers };
    let body: string | undefined;
    if (init.body?.kind === 'form') {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = encodeForm(init.body.fields);
    } else if (init.body?.kind === 'raw') {
      if (init.body.contentType) headers['content-type'] = init.body.contentType;
      body = init.body.text;
    }
    const res = init.browser
      ? await init.browser.jar.fetch(url, { method: init.method, headers, ...(body !== undefined ? { body } : {}) })
      : await fetch(url, { method: init.method, headers, redirect: 'manual', ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    seen.requests += 1;
    seen.byStatus.set(res.status, (seen.byStatus.get(res.status) ?? 0) + 1);
    return { status: res.status, text, type: res.headers.get('content-type') ?? '' };
  }

  /** The invariants every answer keeps. */
  function check(what: string, res: { status: number; text: string; type: string }, endpoint?: keyof typeof ENDPOINT_ERRORS) {
    if (res.status >= 500) throw new Error(`${what}: ${res.status} ${res.text.slice(0, 500)}`);
    if (INTERNALS.test(res.text)) throw new Error(`${what}: internals in the answer: ${res.text.slice(0, 500)}`);
    if (endpoint && res.status >= 400 && res.type.includes('json')) {
      const body = JSON.parse(res.text) as { error?: string };
      if (!ENDPOINT_ERRORS[endpoint]!.includes(body.error ?? '')) throw new Error(`${what}: unexpected error code ${res.status} ${res.text.slice(0, 300)}`);
    }
  }

  beforeAll(async () => {
    gh = await startGatehouse(provider, {
      REQUEST_IP_LIMIT: '1000000',
      TOKEN_CLIENT_LIMIT: '1000000',
      INTROSPECTION_CLIENT_LIMIT: '1000000',
      CLIENT_AUTH_FAILURE_LIMIT: '100000',
      LOGIN_IP_LIMIT: '100000',
      LOGIN_IP_ACCOUNT_LIMIT: '100000',
      LOGIN_LOCKOUT_THRESHOLD: '100',
      DEVICE_CODE_ENTRY_LIMIT: '1000',
      DEVICE_CODE_ENTRY_IP_LIMIT: '100000',
      LOG_LEVEL: 'error',
    });
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read'] });
    web = await registerClient(gh);
    const s = await createClient(gh.db.prisma, { name: 'svc', profile: 'service', apis: [{ identifier: ORDERS, scopes: ['orders:read'] }], default_api: ORDERS });
    service = { id: s.client.client_id, secret: s.clientSecret! };
    deviceClient = (await createClient(gh.db.prisma, { name: 'tv', profile: 'device', scope: ['openid', 'offline_access'] })).client.client_id;
    const user = await registerUser(gh);

    // A person on the login page of a live interaction.
    const browser = new TestBrowser(gh);
    const page = expectPage(await browser.get(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge, state: 's' })));
    const login = formWithAction(page.html, '/login');
    pending = { browser, login, uid: login.action.split('/').at(-2)! };
    // A person on the consent page.
    const other = new TestBrowser(gh);
    const consentPage = expectPage(await signIn(other, await other.get(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge, state: 't' })), user.email));
    const consent = formWithAction(consentPage.html, '/consent');
    consentPending = { browser: other, consent, uid: consent.action.split('/').at(-2)! };
    signedIn = other;
  }, 60_000);

  afterAll(async () => {
    report('fuzz-http', { database: provider, runs_per_property: RUNS, requests: seen.requests, statuses: Object.fromEntries([...seen.byStatus].sort(([a], [b]) => a - b)) });
    await gh.close();
  });

  afterEach(async () => {
    // The process still serves after whatever the property sent.
    expect((await fetch(`${gh.config.issuer}/healthz`)).status).toBe(200);
  });

  test('token endpoint, every grant type and none', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...GRANT_TYPES, undefined), formArb, authOf, async (grantType, fields, auth) => {
        const body: Body = { kind: 'form', fields: grantType ? { ...fields, grant_type: grantType } : fields };
        check(`token ${grantType}`, await send(`${gh.config.issuer}/token`, { method: 'POST', body, headers: { accept: 'application/json', ...authorization(auth) } }), 'token');
      }),
      { numRuns: RUNS * 2 },
    );
    await fc.assert(
      fc.asyncProperty(bodyArb, authOf, async (body, auth) => {
        check('token raw', await send(`${gh.config.issuer}/token`, { method: 'POST', body, headers: { accept: 'application/json', ...authorization(auth) } }), 'token');
      }),
      { numRuns: RUNS },
    );
  });

  test('device authorization, introspection, revocation', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('device_authorization', 'introspection', 'revocation') , bodyArb, authOf, fc.boolean(), async (endpoint, body, auth, withDeviceClient) => {
        const path = { device_authorization: '/device/auth', introspection: '/token/introspection', revocation: '/token/revocation' }[endpoint];
        const b: Body = withDeviceClient && body.kind === 'form' ? { kind: 'form', fields: { ...body.fields, client_id: deviceClient } } : body;
        check(endpoint, await send(`${gh.config.issuer}${path}`, { method: 'POST', body: b, headers: { accept: 'application/json', ...authorization(auth) } }), endpoint);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test('userinfo with any header or method', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST'), fc.option(nastyString), fc.constantFrom('Bearer ', 'bearer ', 'DPoP ', 'Basic ', ''), fc.option(bodyArb), async (method, token, scheme, body) => {
        const headers: Record<string, string> = { accept: 'application/json' };
        if (token !== null) headers.authorization = `${scheme}${token}`.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
        check('userinfo', await send(`${gh.config.issuer}/me`, { method, headers, ...(method === 'POST' && body ? { body } : {}) }), 'userinfo');
      }),
      { numRuns: RUNS },
    );
  });

  test('authorization endpoint (GET and POST), pages or redirects, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST'), formArb, fc.boolean(), fc.boolean(), async (method, fields, validClient, withSession) => {
        const base = validClient ? Object.fromEntries(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge }).searchParams) : {};
        const merged = encodeForm({ ...base, ...fields });
        const url = method === 'GET' ? `${gh.config.issuer}/auth?${merged}` : `${gh.config.issuer}/auth`;
        const res = await send(url, {
          method,
          headers: { accept: 'text/html', ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
          ...(method === 'POST' ? { body: { kind: 'form', fields: { ...base, ...fields } } } : {}),
          ...(withSession ? { browser: signedIn } : {}),
        });
        check('authorize', res);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test('interaction forms (login, consent, abort, device confirmation) and the device code-entry form', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('login', 'consent', 'abort', 'device', ''),
        fc.constantFrom<'pending-login' | 'pending-consent' | 'random' | 'control'>('pending-login', 'pending-consent', 'random', 'control'),
        formArb,
        fc.boolean(),
        async (step, which, fields, keepCsrf) => {
          const target = which === 'pending-login' ? pending : which === 'pending-consent' ? consentPending : undefined;
          const uid = target?.uid ?? (which === 'control' ? `${'x'.repeat(10)}\u0000${'x'.repeat(10)}` : 'x'.repeat(21));
          const hidden = which === 'pending-login' ? pending.login.fields : which === 'pending-consent' ? consentPending.consent.fields : {};
          const url = `${gh.config.issuer}/interaction/${encodeURIComponent(uid)}${step ? `/${step}` : ''}`;
          const res = await send(url, {
            method: step ? 'POST' : 'GET',
            headers: { accept: 'text/html' },
            ...(step ? { body: { kind: 'form', fields: keepCsrf ? { ...fields, ...hidden } : fields } } : {}),
            ...(target ? { browser: target.browser } : {}),
          });
          check(`interaction ${step}`, res);
        },
      ),
      { numRuns: RUNS * 2 },
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST'), formArb, fc.boolean(), async (method, fields, withSession) => {
        const url = method === 'GET' ? `${gh.config.issuer}/device?${encodeForm(fields)}` : `${gh.config.issuer}/device`;
        check(
          'device code entry',
          await send(url, {
            method,
            headers: { accept: 'text/html' },
            ...(method === 'POST' ? { body: { kind: 'form', fields } } : {}),
            ...(withSession ? { browser: signedIn } : {}),
          }),
        );
      }),
      { numRuns: RUNS },
    );
  });

  test('finding 15.5: a control character in one parameter of an otherwise well-formed request, at every endpoint', async () => {
    // Random forms rarely get far enough to reach a database lookup; these start from requests
    // that do (a known client_id, a token to look up, a login form of a live interaction).
    type Base = { what: string; method: 'GET' | 'POST'; path: string; endpoint?: keyof typeof ENDPOINT_ERRORS; fields: Record<string, string>; browser?: TestBrowser };
    const bases = (): Base[] => [
      { what: 'token client_credentials', method: 'POST', path: '/token', endpoint: 'token', fields: { grant_type: 'client_credentials', client_id: service.id, client_secret: service.secret, scope: 'orders:read' } },
      { what: 'token authorization_code', method: 'POST', path: '/token', endpoint: 'token', fields: { grant_type: 'authorization_code', client_id: web.clientId, client_secret: web.clientSecret!, code: 'c'.repeat(43), redirect_uri: web.redirectUri, code_verifier: 'v'.repeat(43) } },
      { what: 'token refresh_token', method: 'POST', path: '/token', endpoint: 'token', fields: { grant_type: 'refresh_token', client_id: web.clientId, client_secret: web.clientSecret!, refresh_token: 'r'.repeat(43) } },
      { what: 'introspection', method: 'POST', path: '/token/introspection', endpoint: 'introspection', fields: { client_id: web.clientId, client_secret: web.clientSecret!, token: 't'.repeat(43) } },
      { what: 'revocation', method: 'POST', path: '/token/revocation', endpoint: 'revocation', fields: { client_id: web.clientId, client_secret: web.clientSecret!, token: 't'.repeat(43) } },
      { what: 'device authorization', method: 'POST', path: '/device/auth', endpoint: 'device_authorization', fields: { client_id: deviceClient, scope: 'openid' } },
      { what: 'PAR', method: 'POST', path: '/request', fields: { client_id: web.clientId, client_secret: web.clientSecret!, response_type: 'code', redirect_uri: web.redirectUri, scope: 'openid', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' } },
      { what: 'authorize', method: 'GET', path: '/auth', fields: Object.fromEntries(authorizationUrl(gh, { client: web, codeChallenge: pkcePair().challenge, state: 's' }).searchParams) },
      { what: 'end session', method: 'GET', path: '/session/end', fields: { client_id: web.clientId, post_logout_redirect_uri: web.postLogoutRedirectUri } },
      { what: 'login form', method: 'POST', path: new URL(pending.login.action, gh.config.issuer).pathname, fields: { ...pending.login.fields, email: 'someone@example.com', password: 'a password of some length' }, browser: pending.browser },
    ];
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.nat(), controlString, fc.boolean(), async (which, field, value, inName) => {
        const all = bases();
        const base = all[which % all.length]!;
        const names = Object.keys(base.fields);
        const name = names[field % names.length]!;
        const fields = { ...base.fields };
        if (inName) fields[`${name}${value}`] = 'x';
        else fields[name] = value;
        const query = encodeForm(fields);
        const url = `${gh.config.issuer}${base.path}${base.method === 'GET' ? `?${query}` : ''}`;
        const res = await send(url, {
          method: base.method,
          headers: { accept: base.endpoint ? 'application/json' : 'text/html' },
          ...(base.method === 'POST' ? { body: { kind: 'form', fields } } : {}),
          ...(base.browser ? { browser: base.browser } : {}),
        });
        check(`${base.what} ${inName ? 'name' : name}=${JSON.stringify(value)}`, res, base.endpoint);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  test('logout (end_session and its confirmation)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('/session/end', '/session/end/confirm'), fc.constantFrom('GET', 'POST'), formArb, async (path, method, fields) => {
        const url = method === 'GET' ? `${gh.config.issuer}${path}?${encodeForm(fields)}` : `${gh.config.issuer}${path}`;
        check(
          `logout ${path}`,
          await send(url, { method, headers: { accept: 'text/html' }, ...(method === 'POST' ? { body: { kind: 'form', fields } } : {}) }),
        );
      }),
      { numRuns: RUNS },
    );
  });
});
