// Polling control of the device flow (RFC 8628 §3.4, §3.5), which oidc-provider leaves to us:
// its device authorization response has no `interval`, and it never answers `slow_down`.
//
// Every poll that oidc-provider would answer `authorization_pending` is recorded on the device
// code's row (lastPolledAt). A poll that arrives sooner than the code's interval after the
// previous one is answered `slow_down` instead, and the interval of that device code grows by
// 5 seconds "for this and all subsequent requests" (§3.5). Polls after the person decided are
// answered as oidc-provider decides (tokens, access_denied, expired_token): slow_down is a
// variant of authorization_pending only.
//
// The state is in the database, in columns the adapter never writes, so every instance sees
// the same clock of each device code and oidc-provider's own saves of the code (approval, denial)
// cannot overwrite it, nor it them.
import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { DEVICE_CODE_GRANT } from '../clients/metadata.js';
import type { Db } from '../db/client.js';

/** RFC 8628 §3.5: "the interval MUST be increased by 5 seconds". */
const SLOW_DOWN_INCREMENT_SECONDS = 5;

type PollDecision = { slowDown: boolean; intervalSeconds: number };

/**
 * Polls measured at the server arrive a little closer together than the device sent them when
 * the network delays one more than the next; 10% of the interval (at most a second) is forgiven.
 */
function jitterAllowanceMs(intervalSeconds: number): number {
  return Math.min(1000, intervalSeconds * 100);
}

/**
 * Records a poll of device code `id` and says whether it came too soon. Compare-and-set on
 * lastPolledAt: of two polls racing, the second to write sees the first and is too soon.
 * Returns null when the device code row is gone.
 */
async function recordPoll(prisma: Db, id: string, defaultIntervalSeconds: number): Promise<PollDecision | null> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const row = await prisma.deviceCode.findUnique({ where: { id }, select: { lastPolledAt: true, pollInterval: true } });
    if (!row) return null;
    const now = new Date();
    const interval = row.pollInterval ?? defaultIntervalSeconds;
    const elapsedMs = row.lastPolledAt ? now.getTime() - row.lastPolledAt.getTime() : Infinity;
    const slowDown = elapsedMs < interval * 1000 - jitterAllowanceMs(interval);
    const intervalSeconds = slowDown ? interval + SLOW_DOWN_INCREMENT_SECONDS : interval;
    const { count } = await prisma.deviceCode.updateMany({
      where: { id, lastPolledAt: row.lastPolledAt },
      data: { lastPolledAt: now, pollInterval: intervalSeconds },
    });
    if (count === 1) return { slowDown, intervalSeconds };
  }
  // Polls of one code keep colliding: they are arriving together, which is too fast by definition.
  const row = await prisma.deviceCode.findUnique({ where: { id }, select: { pollInterval: true } });
  return row ? { slowDown: true, intervalSeconds: row.pollInterval ?? defaultIntervalSeconds } : null;
}

type ErrorBody = { error: string; error_description?: string };

function isErrorBody(body: unknown): body is ErrorBody {
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string';
}

/**
 * Around oidc-provider's device authorization and token endpoints: adds `interval` to the device
 * authorization response (§3.2; without it devices assume 5 s), and turns a too-early
 * `authorization_pending` into `slow_down`. The slow_down body carries the device code's new
 * interval as well, for devices that read it; RFC 8628 devices add the 5 s themselves.
 */
export function devicePolling(prisma: Db, defaultIntervalSeconds: number): Middleware {
  return async (ctx, next) => {
    await next();
    const oidc = (ctx as KoaContextWithOIDC).oidc as KoaContextWithOIDC['oidc'] | undefined;
    if (!oidc?.route) return;

    if (oidc.route === 'device_authorization') {
      const body: unknown = ctx.body;
      if (ctx.status === 200 && typeof body === 'object' && body !== null && 'device_code' in body) {
        ctx.body = { ...body, interval: defaultIntervalSeconds };
      }
      return;
    }

    if (oidc.route !== 'token' || oidc.params?.grant_type !== DEVICE_CODE_GRANT) return;
    const deviceCode = oidc.params.device_code;
    if (ctx.status !== 400 || !isErrorBody(ctx.body) || ctx.body.error !== 'authorization_pending' || typeof deviceCode !== 'string') return;
    const decision = await recordPoll(prisma, deviceCode, defaultIntervalSeconds);
    if (!decision?.slowDown) return;
    ctx.body = {
      error: 'slow_down',
      error_description: `polling too fast: wait at least ${decision.intervalSeconds} seconds between requests`,
      interval: decision.intervalSeconds,
    };
  };
}
