// Single use of client assertions (RFC 7523 §3, `jti`) and DPoP proofs (RFC 9449 §11.1) under
// concurrency: the same JWT presented many times at once is accepted exactly once.
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { createApi } from '../../src/clients/apis.js';
import { createClient } from '../../src/clients/registry.js';
import { PROVIDERS } from '../support/databases.js';
import { JWT_BEARER, assertionKey, clientAssertion, type AssertionKey } from '../support/client-assertion.js';
import { endpoints, postForm, type OAuthResponse } from '../support/oauth-http.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const BILLING = 'urn:example:billing';
const CONCURRENT = 20;
const ROUNDS = 3;

/** A DPoP proof JWT (RFC 9449 §4.2) for a POST to `url`, signed with a fresh ES256 key. */
async function dpopProof(url: string): Promise<string> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return new SignJWT({ htm: 'POST', htu: url })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .setIssuedAt()
    .setJti(randomUUID())
    .sign(privateKey);
}

/** How many answers had each status and error, e.g. { '200': 1, '401 invalid_client': 19 }. */
function tally(responses: OAuthResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const res of responses) {
    const key = res.status === 200 ? '200' : `${res.status} ${String(res.body.error)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

describe.each(PROVIDERS)('single-use assertions and DPoP proofs under concurrency on %s', (provider) => {
  // Every refused replay is a failed client authentication: lift that budget (tested in
  // test/http/client-auth-failures.test.ts) so the rounds here meet replay refusals, not 429s.
  const gh = useGatehouse(provider, { CLIENT_AUTH_FAILURE_LIMIT: '100000' });
  let url: ReturnType<typeof endpoints>;
  let client: { id: string; key: AssertionKey };

  const clientCredentials = (assertion: string, headers: Record<string, string> = {}) =>
    postForm(url.token, { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: assertion }, headers);

  beforeAll(async () => {
    url = endpoints(gh);
    await createApi(gh.db.prisma, { identifier: BILLING, name: 'Billing', scopes: ['billing:read'] });
    const key = await assertionKey();
    const created = await createClient(gh.db.prisma, {
      name: 'replay',
      profile: 'service',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [key.publicJwk] },
      apis: [{ identifier: BILLING, scopes: ['billing:read'] }],
      default_api: BILLING,
    });
    client = { id: created.client.client_id, key };
  });

  test(`finding 15.3: one client assertion sent ${CONCURRENT} times at once is accepted exactly once`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const assertion = await clientAssertion(client.key, client.id, url.token);
      const responses = await Promise.all(Array.from({ length: CONCURRENT }, () => clientCredentials(assertion)));
      expect({ round, answers: tally(responses) }).toEqual({ round, answers: { '200': 1, '401 invalid_client': CONCURRENT - 1 } });
      // Later, one at a time: still refused the same way.
      const again = await clientCredentials(assertion);
      expect({ status: again.status, error: again.body.error }).toEqual({ status: 401, error: 'invalid_client' });
    }
  });

  test(`finding 15.3: one DPoP proof sent ${CONCURRENT} times at once is accepted exactly once`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const proof = await dpopProof(url.token);
      // A fresh assertion per request, so only the proof is shared.
      const assertions = await Promise.all(Array.from({ length: CONCURRENT }, () => clientAssertion(client.key, client.id, url.token)));
      const responses = await Promise.all(assertions.map((assertion) => clientCredentials(assertion, { dpop: proof })));
      expect({ round, answers: tally(responses) }).toEqual({ round, answers: { '200': 1, '400 invalid_dpop_proof': CONCURRENT - 1 } });
      const winner = responses.find((res) => res.status === 200)!;
      expect(winner.body.token_type).toBe('DPoP');
      // Later, one at a time: still refused the same way (RFC 9449 §5: invalid_dpop_proof).
      const again = await clientCredentials(await clientAssertion(client.key, client.id, url.token), { dpop: proof });
      expect({ status: again.status, error: again.body.error }).toEqual({ status: 400, error: 'invalid_dpop_proof' });
    }
  });
});
