// Pins every assumption src/oidc/provider-internals.ts makes about oidc-provider against the
// installed version: an upgrade that changes one fails here, naming it, rather than somewhere
// in the protocol suites. Internal helpers are loaded from node_modules/oidc-provider/lib.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Provider from 'oidc-provider';
import type { AdapterPayload, KoaContextWithOIDC } from 'oidc-provider';
import {
  currentContext,
  errorDetailOf,
  isStructuredTokenRefusal,
  wrapAccessTokenRevokeByGrantId,
  isGrantNotAllowedForClient,
  PROVIDER_ERROR_DETAILS,
  RE_RENDER_ERROR_NAMES,
  reRenderErrorName,
  replaceClientSecretCheck,
  replayDetectionKey,
  revokeGrantAsProvider,
  signedInSession,
  wrapAuthorizationCodeConsume,
  wrapAuthorizationCodeFind,
  wrapClientFind,
} from '../../src/oidc/provider-internals.js';

const lib = path.join(path.dirname(createRequire(path.join(process.cwd(), 'package.json')).resolve('oidc-provider/package.json')), 'lib');
const source = (file: string) => readFileSync(path.join(lib, file), 'utf8');
const internal = async <T>(file: string) => (await import(pathToFileURL(path.join(lib, file)).href)) as T;

const CLIENT = { client_id: 'pinned', client_secret: 'not-used', redirect_uris: ['https://app.example/cb'] };
async function pinnedClient(provider: Provider) {
  const client = await provider.Client.find('pinned');
  if (!client) throw new Error('the static client is missing');
  return client;
}
const consumedOf = (code: unknown) => (code as { consumed?: unknown } | undefined)?.consumed;
const newProvider = (configuration: ConstructorParameters<typeof Provider>[1] = {}) =>
  new Provider('http://localhost:3000', { clients: [CLIENT], ...configuration });

type ProviderError = Error & { error?: string; error_detail?: string };
async function refusal(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    return error as ProviderError;
  }
  throw new Error('expected a refusal');
}

test('the installed oidc-provider is the major version these pins were written for', () => {
  const { version } = JSON.parse(readFileSync(path.join(lib, '..', 'package.json'), 'utf8')) as { version: string };
  expect(version.split('.')[0]).toBe('9');
});

test('Provider.ctx is the request being served, also where the token endpoint looks its client up', async () => {
  expect(typeof Object.getOwnPropertyDescriptor(Provider, 'ctx')?.get).toBe('function');
  expect(currentContext()).toBeUndefined();
  const provider = newProvider();
  const seen: (string | undefined)[] = [];
  wrapClientFind(provider, (find) => async (clientId) => {
    seen.push(currentContext()?.oidc.route);
    return find(clientId);
  });
  const handle = provider.callback();
  const server = createServer((req, res) => void handle(req, res)).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const response = await fetch(`http://127.0.0.1:${port}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('pinned:wrong').toString('base64')}` },
      body: 'grant_type=authorization_code&code=x',
    });
    expect(response.status).toBe(401);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(seen[0]).toBe('token');
});

test('Client.prototype.compareClientSecret takes the presented secret and is replaced by ours', async () => {
  const provider = newProvider();
  const original = provider.Client.prototype.compareClientSecret;
  expect(typeof original).toBe('function');
  expect(original.length).toBe(1);
  const calls: [string, string][] = [];
  replaceClientSecretCheck(provider, async (clientId, presented) => {
    calls.push([clientId, presented]);
    return presented === 'right';
  });
  const client = await provider.Client.find('pinned');
  expect(await client?.compareClientSecret('right')).toBe(true);
  expect(await client?.compareClientSecret('wrong')).toBe(false);
  expect(calls).toEqual([
    ['pinned', 'right'],
    ['pinned', 'wrong'],
  ]);
});

test('Client.find is a static look-up by client_id that can be wrapped', async () => {
  const provider = newProvider();
  expect(typeof provider.Client.find).toBe('function');
  const asked: string[] = [];
  wrapClientFind(provider, (find) => async (clientId) => {
    asked.push(clientId);
    return find(clientId);
  });
  expect((await provider.Client.find('pinned'))?.clientId).toBe('pinned');
  expect(await provider.Client.find('unknown')).toBeUndefined();
  expect(asked).toEqual(['pinned', 'unknown']);
  // lib/shared/client_auth.js looks the client up through the model's find.
  expect(source('shared/client_auth.js')).toMatch(/Client\.find\(/);
});

test('AuthorizationCode.find and prototype.consume exist and are what the token endpoint calls', async () => {
  const provider = newProvider();
  expect(typeof provider.AuthorizationCode.find).toBe('function');
  expect(provider.AuthorizationCode.prototype.consume.length).toBe(0);
  const found: string[] = [];
  const consumed: string[] = [];
  wrapAuthorizationCodeFind(provider, (find) => async (jti, options) => {
    found.push(jti);
    return find(jti, options);
  });
  wrapAuthorizationCodeConsume(provider, (consume) => async (code) => {
    consumed.push(code.jti);
    await consume(code);
  });
  const client = await pinnedClient(provider);
  const code = new provider.AuthorizationCode({ client, accountId: 'someone', grantId: 'grant-1', scope: 'openid', gty: 'authorization_code', redirectUri: 'https://app.example/cb' });
  const jti = await code.save();
  const read = await provider.AuthorizationCode.find(jti);
  expect(consumedOf(read)).toBeFalsy();
  await read?.consume();
  expect(consumedOf(await provider.AuthorizationCode.find(jti))).toBeTruthy();
  expect(found).toEqual([jti, jti]);
  expect(consumed).toEqual([jti]);
  // lib/helpers/grant_source.js reads a code through find and consumes it through consume().
  expect(source('helpers/grant_source.js')).toMatch(/Model\.find\(value/);
  expect(source('helpers/grant_source.js')).toMatch(/await source\.consume\(\)/);
});

test('revokeGrantAsProvider removes the tokens, codes and the grant as lib/helpers/revoke.js does', async () => {
  const provider = newProvider();
  const client = await pinnedClient(provider);
  const code = new provider.AuthorizationCode({ client, accountId: 'someone', grantId: 'grant-2', scope: 'openid', gty: 'authorization_code', redirectUri: 'https://app.example/cb' });
  const jti = await code.save();
  await revokeGrantAsProvider(provider, 'grant-2');
  expect(await provider.AuthorizationCode.find(jti)).toBeUndefined();
  const revoke = source('helpers/revoke.js');
  for (const call of ['model?.revokeByGrantId(grantId)', 'provider.Grant.adapter.destroy(grantId)']) expect(revoke).toContain(call);
});

test('ReplayDetection stores a JWT under sha256(iss || jti), base64url', async () => {
  const ids: string[] = [];
  class Capturing {
    async upsert(id: string) {
      ids.push(id);
    }
    async find(): Promise<AdapterPayload | undefined> {
      return undefined;
    }
    async findByUid() {
      return undefined;
    }
    async findByUserCode() {
      return undefined;
    }
    async consume() {}
    async destroy() {}
    async revokeByGrantId() {}
  }
  const provider = newProvider({ adapter: Capturing });
  const iss = 'https://client.example';
  const jti = 'one-jti';
  expect(await provider.ReplayDetection.unique(iss, jti, Math.floor(Date.now() / 1000) + 60)).toBe(true);
  expect(ids).toEqual([replayDetectionKey(iss, jti)]);
});

test('the error_detail texts oidc-provider produces are the ones the features match', async () => {
  type GrantSource = {
    consumeGrantSource: (provider: Provider, ctx: unknown, source: unknown, label: string) => Promise<void>;
    validateGrant: (provider: Provider, ctx: unknown, grantId: string) => Promise<void>;
  };
  type GrantCommon = { validateAccount: (provider: Provider, ctx: unknown, token: unknown, label: string) => Promise<void> };
  const { consumeGrantSource, validateGrant } = await internal<GrantSource>('helpers/grant_source.js');
  const { validateAccount } = await internal<GrantCommon>('helpers/grant_common.js');
  const provider = newProvider({ findAccount: async () => undefined });
  const ctx = { oidc: { provider } } as unknown as KoaContextWithOIDC;

  // The labels the grants pass (lib/actions/grants/authorization_code.js, refresh_token.js).
  expect(source('actions/grants/authorization_code.js')).toContain("consumeGrantSource(ctx, code, 'authorization code')");
  expect(source('actions/grants/refresh_token.js')).toContain("validateAccount(provider, ctx, refreshToken, 'refresh token')");

  const consumedCode = await refusal(consumeGrantSource(provider, ctx, { consumed: 1 }, 'authorization code'));
  expect([consumedCode.error, errorDetailOf(consumedCode)]).toEqual(['invalid_grant', PROVIDER_ERROR_DETAILS.authorizationCodeConsumed]);

  const noGrant = await refusal(validateGrant(provider, ctx, 'no-such-grant'));
  expect([noGrant.error, errorDetailOf(noGrant)]).toEqual(['invalid_grant', PROVIDER_ERROR_DETAILS.grantNotFound]);

  const noAccount = await refusal(validateAccount(provider, ctx, { accountId: 'gone', kind: 'RefreshToken' }, 'refresh token'));
  expect([noAccount.error, errorDetailOf(noAccount)]).toEqual(['invalid_grant', PROVIDER_ERROR_DETAILS.refreshTokenAccountNotFound]);

  // Thrown inline in the refresh grant, after revoking: pinned on its text.
  expect(source('actions/grants/refresh_token.js')).toContain(`throw new InvalidGrant('${PROVIDER_ERROR_DETAILS.refreshTokenReused}')`);
  // requested-resource.ts answers as lib/helpers/resolve_resource.js does.
  expect(source('helpers/resolve_resource.js')).toContain(`'${PROVIDER_ERROR_DETAILS.singleResourceRequired}'`);
});

test('a client asking for a grant it is not allowed gets the description the device flow rewrites', () => {
  expect(source('actions/authorization/client.js')).toContain('throw new InvalidRequest(`${grantType} is not allowed for this client`)');
  expect(isGrantNotAllowedForClient('urn:ietf:params:oauth:grant-type:device_code is not allowed for this client')).toBe(true);
  expect(isGrantNotAllowedForClient('requested response_type is not allowed for this client or request')).toBe(false);
});

test("the verification URI's re-render errors are known by these names", async () => {
  const module = await internal<Record<string, unknown>>('helpers/re_render_errors.js');
  const Base = module.ReRenderError as new () => Error;
  const names = Object.entries(module)
    .filter(([name, value]) => name !== 'ReRenderError' && typeof value === 'function' && value.prototype instanceof Base)
    .map(([name, value]) => {
      expect(reRenderErrorName(new (value as new () => Error)())).toBe(name);
      return name;
    });
  expect(names.sort()).toEqual([...RE_RENDER_ERROR_NAMES].sort());
  expect(reRenderErrorName(new Error('other'))).toBeUndefined();
});

test('a JWT at introspection and revocation is refused with unsupported_token_type only after client authentication', async () => {
  const provider = newProvider({ features: { introspection: { enabled: true }, revocation: { enabled: true } } });
  const seen: { route: string | undefined; refusal: boolean; client: string | undefined }[] = [];
  provider.use(async (ctx, next) => {
    await next();
    const oidc = (ctx as KoaContextWithOIDC).oidc;
    if (oidc) seen.push({ route: oidc.route, refusal: isStructuredTokenRefusal(ctx as KoaContextWithOIDC), client: oidc.client?.clientId });
  });
  const handle = provider.callback();
  const server = createServer((req, res) => void handle(req, res)).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const jwt = `${Buffer.from('{"alg":"RS256","typ":"at+jwt"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.c2ln`;
  try {
    const { port } = server.address() as AddressInfo;
    const post = (route: string, secret: string, token = jwt) =>
      fetch(`http://127.0.0.1:${port}/token/${route}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`pinned:${secret}`).toString('base64')}` },
        body: `token=${token}`,
      });
    for (const route of ['introspection', 'revocation']) {
      const refused = await post(route, 'not-used');
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: string }).error).toBe('unsupported_token_type');
      // Wrong client credentials: invalid_client comes first, so a refusal means an authenticated client.
      expect((await post(route, 'wrong')).status).toBe(401);
      // An opaque token is oidc-provider's to answer.
      expect((await post(route, 'not-used', 'opaque')).status).toBe(200);
    }
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  expect(seen).toEqual([
    { route: 'introspection', refusal: true, client: 'pinned' },
    { route: 'introspection', refusal: false, client: 'pinned' },
    { route: 'introspection', refusal: false, client: 'pinned' },
    { route: 'revocation', refusal: true, client: 'pinned' },
    { route: 'revocation', refusal: false, client: 'pinned' },
    { route: 'revocation', refusal: false, client: 'pinned' },
  ]);
});

test('AccessToken.revokeByGrantId is what lib/helpers/revoke.js calls, also at sign-out, and can be wrapped', async () => {
  expect(source('helpers/revoke.js')).toMatch(/provider\.AccessToken,[\s\S]*\.map\(\(model\) => model\?\.revokeByGrantId\(grantId\)\)/);
  expect(source('actions/end_session.js')).toMatch(/await revoke\(ctx, grantId\)/);
  const provider = newProvider();
  const seen: string[] = [];
  wrapAccessTokenRevokeByGrantId(provider, (revoke) => async (grantId) => {
    seen.push(grantId);
    await revoke(grantId);
  });
  await revokeGrantAsProvider(provider, 'grant-1');
  expect(seen).toEqual(['grant-1']);
});

test("signedInSession reads the session oidc-provider's signed session cookie names, and only one with a person", async () => {
  const provider = newProvider({ cookies: { keys: ['pinned-cookie-key'] } });
  // The model's constructor takes the stored fields (lib/models/session.js); the types say none.
  const Session = provider.Session as unknown as new (fields: Record<string, unknown>) => { save(ttl: number): Promise<string> };
  const session = new Session({ jti: 'pinned-session', accountId: 'pinned-account', loginTs: 1700000000, amr: ['pwd'], acr: 'urn:pinned' });
  await session.save(60);
  const anonymous = new Session({ jti: 'pinned-anonymous' });
  await anonymous.save(60);
  const server = createServer((req, res) => {
    const ctx = provider.createContext(req, res);
    void (async () => {
      if (req.url?.startsWith('/set/')) {
        // As lib/shared/session.js sets it: signed with the cookie keys.
        ctx.cookies.set(provider.cookieName('session'), req.url.slice('/set/'.length), { signed: true });
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify((await signedInSession(provider, ctx)) ?? null));
    })();
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const cookieFor = async (id: string) => {
      const set = await fetch(`http://127.0.0.1:${port}/set/${id}`);
      return set.headers.getSetCookie().map((cookie) => cookie.split(';')[0]).join('; ');
    };
    const read = async (cookie?: string) => (await fetch(`http://127.0.0.1:${port}/read`, { headers: cookie ? { cookie } : {} })).json();
    expect(await read(await cookieFor('pinned-session'))).toEqual({ accountId: 'pinned-account', id: 'pinned-session', loginTs: 1700000000, amr: ['pwd'], acr: 'urn:pinned' });
    expect(await read(await cookieFor('pinned-anonymous'))).toBeNull();
    expect(await read()).toBeNull();
    // An unsigned cookie naming a real session is ignored.
    expect(await read(`${provider.cookieName('session')}=pinned-session`)).toBeNull();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
