// Back-channel logout outbox row -> the request (OpenID Connect Back-Channel Logout 1.0 §2.5):
// a form POST of `logout_token`, a JWT signed with Gatehouse's current key (§2.4: iss, aud, iat,
// exp, jti, events, sub and sid; no nonce; typ logout+jwt), made at each attempt so its lifetime
// starts when it is sent. `jti` is the outbox id: a redelivery after a crash is recognisable.
import type { Db } from '../db/client.js';
import type { JwtSigner } from '../keys/sign-jwt.js';
import type { Renderer } from '../webhooks/worker.js';
import { logoutClaimsSchema } from './queue.js';

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/** How long a logout token is valid after it is sent. */
const LOGOUT_TOKEN_TTL_SECONDS = 120;

export function backchannelLogoutRenderer(deps: { prisma: Db; issuer: string; sign: JwtSigner }): Renderer {
  return async (row) => {
    if (!row.clientId) return null;
    // The client's registration now: a client deleted, disabled or without the URI gets nothing.
    const client = await deps.prisma.client.findUnique({ where: { id: row.clientId }, select: { backchannelLogoutUri: true, disabled: true } });
    if (!client?.backchannelLogoutUri || client.disabled) return null;
    const claims = logoutClaimsSchema.parse(JSON.parse(row.payload));
    const token = await deps.sign(
      {
        iss: deps.issuer,
        aud: row.clientId,
        exp: Math.floor(Date.now() / 1000) + LOGOUT_TOKEN_TTL_SECONDS,
        jti: row.id,
        events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
        ...claims,
      },
      'logout+jwt',
    );
    return {
      url: client.backchannelLogoutUri,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }).toString(),
    };
  };
}
