// Refresh token lifetimes (RFC 9700 §4.14.2): an idle lifetime that each rotation renews, and an
// absolute one counted from the person's sign-in that no amount of use extends. Short TTLs are
// configured; waits are computed from the stored token's own `exp` (whole seconds), so each
// check happens just past the instant it is about, never on a guess.
import { freshDatabase, PROVIDERS } from '../support/databases.js';
import { startGatehouse, type TestGatehouse } from '../support/gatehouse.js';
import { registerClient, registerUser, type TestClient } from '../support/signin.js';
import { introspect, refresh, refreshPayload, signInOffline, waitUntilPast } from '../support/refresh.js';
import { useBeforeAll } from '../support/use-before-all.js';
import { useGatehouse } from '../support/use-gatehouse.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Times = { iat: number; exp: number; iiat: number; authTime: number };
async function times(gh: TestGatehouse, token: string): Promise<Times> {
  const p = await refreshPayload(gh, token);
  return { iat: p.iat as number, exp: p.exp as number, iiat: p.iiat as number, authTime: p.authTime as number };
}
const chainStart = (t: Times) => Math.min(t.authTime, t.iiat);

describe.each(PROVIDERS)('refresh token lifetimes on %s', (provider) => {
  describe('idle lifetime (REFRESH_TOKEN_IDLE_TTL=4s)', () => {
    const gh = useGatehouse(provider, { REFRESH_TOKEN_IDLE_TTL: '4s', REFRESH_TOKEN_ABSOLUTE_TTL: '1h' });
    const client = useBeforeAll(() => registerClient(gh));

    test('each rotation renews it, so a chain in use outlives the first token; a token left idle past it is refused', async () => {
      const user = await registerUser(gh);
      const a = (await signInOffline(gh, client, user.email)).refreshToken;
      const ta = await times(gh, a);
      expect(ta.exp - ta.iat).toBe(4);

      // Each token lives at least 3 s (4 s less the rounding of iat to a second): using it
      // 1.5 s later is well inside.
      await sleep(1500);
      const b = (await refresh(gh, client, a)).body.refresh_token as string;
      const tb = await times(gh, b);
      expect(tb.exp - tb.iat).toBe(4);
      expect(tb.exp).toBeGreaterThan(ta.exp);
      await sleep(1500);
      const c = (await refresh(gh, client, b)).body.refresh_token as string;
      expect(c).toEqual(expect.any(String));

      // The first token's idle period is over, the chain's is not.
      await waitUntilPast(ta.exp);
      const d = await refresh(gh, client, c);
      expect(d.status).toBe(200);

      // Left unused past its idle lifetime, the newest token is refused.
      const dToken = d.body.refresh_token as string;
      await waitUntilPast((await times(gh, dToken)).exp);
      const idle = await refresh(gh, client, dToken);
      expect(idle.status).toBe(400);
      expect(idle.body).toMatchObject({ error: 'invalid_grant' });
      expect((await introspect(gh, client, dToken)).body).toEqual({ active: false });
    });
  });

  describe('absolute lifetime (REFRESH_TOKEN_ABSOLUTE_TTL=5s, idle 4s)', () => {
    const gh = useGatehouse(provider, { REFRESH_TOKEN_IDLE_TTL: '4s', REFRESH_TOKEN_ABSOLUTE_TTL: '5s' });
    const client = useBeforeAll(() => registerClient(gh));

    test('counted from the sign-in: a token rotated late in the chain expires with it, and the chain ends there', async () => {
      const user = await registerUser(gh);
      const a = (await signInOffline(gh, client, user.email)).refreshToken;
      const ta = await times(gh, a);
      const start = chainStart(ta);
      expect(ta.exp).toBeLessThanOrEqual(start + 5);
      // Alive until at least start + 4 (a full idle period from an iat no earlier than start).
      expect(ta.exp).toBeGreaterThanOrEqual(start + 4);

      // Two seconds in, the idle lifetime would reach past the absolute limit: it is capped.
      await waitUntilPast(start + 2);
      const rotated = await refresh(gh, client, a);
      expect(rotated.status).toBe(200);
      const b = rotated.body.refresh_token as string;
      const tb = await times(gh, b);
      expect(tb.iiat).toBe(ta.iiat);
      expect(tb.exp).toBe(start + 5);
      expect(tb.exp).toBeLessThan(tb.iat + 4);

      // Past the absolute limit the chain is over, though B was issued less than an idle period ago.
      await waitUntilPast(start + 5);
      const late = await refresh(gh, client, b);
      expect(late.status).toBe(400);
      expect(late.body).toMatchObject({ error: 'invalid_grant' });
    });
  });

  describe('lowering the absolute lifetime', () => {
    test('ends chains whose tokens were issued under the longer one', async () => {
      const database = await freshDatabase(provider);
      try {
        const long = { REFRESH_TOKEN_IDLE_TTL: '1h', REFRESH_TOKEN_ABSOLUTE_TTL: '1h' };
        const first = await startGatehouse(provider, long, database);
        const { issuer, port } = first.config;
        let client: TestClient;
        let token: string;
        try {
          client = await registerClient(first);
          const user = await registerUser(first);
          token = (await signInOffline(first, client, user.email)).refreshToken;
        } finally {
          await first.close();
        }

        // Same database and issuer, restarted with a 3 s absolute lifetime.
        const second = await startGatehouse(
          provider,
          { PORT: String(port), ISSUER: issuer, REFRESH_TOKEN_IDLE_TTL: '3s', REFRESH_TOKEN_ABSOLUTE_TTL: '3s' },
          database,
        );
        try {
          const t = await times(second, token);
          expect(t.exp).toBeGreaterThan(Date.now() / 1000 + 3000);
          await waitUntilPast(chainStart(t) + 3);
          const refused = await refresh(second, client, token);
          expect(refused.status).toBe(400);
          expect(refused.body).toMatchObject({ error: 'invalid_grant' });
          // The token itself is unexpired and recognised: the refusal is the lifetime policy.
          expect((await introspect(second, client, token)).body).toMatchObject({ active: true });
        } finally {
          await second.close();
        }
      } finally {
        await database.drop();
      }
    });
  });
});
