// Resource indicators (RFC 8707) at the authorization endpoint: the same API registry decides
// which APIs and scopes an app that signs people in may ask for. (Token issuance after sign-in is
// covered by the sign-in tests; these checks run before any interaction.)
import { createHash, randomBytes } from 'node:crypto';
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const ORDERS = 'https://api.example.com/orders';
const BILLING = 'urn:example:billing';
const REDIRECT = 'https://app.example.com/callback';

describe.each(PROVIDERS)('resource indicators at the authorization endpoint on %s', (provider) => {
  const gh = useGatehouse(provider);
  let clientId: string;

  beforeAll(async () => {
    await createApi(gh.db.prisma, { identifier: ORDERS, name: 'Orders', scopes: ['orders:read', 'orders:write'] });
    await createApi(gh.db.prisma, { identifier: BILLING, name: 'Billing', scopes: ['billing:read'] });
    const { client } = await createClient(gh.db.prisma, {
      name: 'app',
      profile: 'spa',
      redirect_uris: [REDIRECT],
      scope: ['openid', 'offline_access'],
      apis: [{ identifier: ORDERS, scopes: ['orders:read'] }],
      default_api: ORDERS,
    });
    clientId = client.client_id;
  });

  async function authorize(params: Record<string, string>) {
    const verifier = randomBytes(32).toString('base64url');
    const query = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      redirect_uri: REDIRECT,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state: 'st',
      ...params,
    });
    const res = await fetch(`${gh.url}/auth?${query.toString()}`, { redirect: 'manual' });
    const location = res.headers.get('location') ?? '';
    return { status: res.status, location: new URL(location, gh.url) };
  }

  test('an allowed API and scope proceed to sign-in', async () => {
    const { status, location } = await authorize({ scope: 'openid orders:read', resource: ORDERS });
    expect(status).toBeGreaterThanOrEqual(302);
    expect(status).toBeLessThanOrEqual(303);
    expect(location.pathname).toMatch(/^\/interaction\//);
  });

  test('without a resource the default API applies, with its scope rules', async () => {
    expect((await authorize({ scope: 'openid orders:read' })).location.pathname).toMatch(/^\/interaction\//);
    // Only the default API's rules can refuse this request: no resource was named.
    expect((await authorize({ scope: 'openid orders:write' })).location.searchParams.get('error')).toBe('invalid_scope');
  });

  test('an API the app is not allowed: invalid_target, returned to the app', async () => {
    for (const resource of [BILLING, 'https://unknown.example.com/']) {
      const { location } = await authorize({ scope: 'openid', resource });
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
      expect(location.searchParams.get('error')).toBe('invalid_target');
      expect(location.searchParams.get('state')).toBe('st');
      expect(location.searchParams.get('iss')).toBe(gh.config.issuer);
    }
  });

  test('an API scope the app is not allowed: invalid_scope (RFC 6749 §4.1.2.1)', async () => {
    for (const scope of ['openid orders:write', 'openid billing:read', 'openid admin']) {
      const { location } = await authorize({ scope, resource: ORDERS });
      expect(`${location.origin}${location.pathname}`).toBe(REDIRECT);
      expect(location.searchParams.get('error')).toBe('invalid_scope');
    }
  });
});
