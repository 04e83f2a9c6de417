// One second-factor attempt under the sign-in protections (src/sign-in/login.ts): it spends a
// point of the per-address and per-address-and-account budgets (given back on success), and it
// counts towards the account's lockout (src/accounts/authenticate.ts checkSecondFactor). Every
// outcome is audited (mfa.success, mfa.failure, account.locked), never with the code itself.
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { checkSecondFactor } from '../accounts/authenticate.js';
import { getUserById } from '../accounts/users.js';
import { clientAddressKey, setRateLimitHeaders } from '../http/rate-limit.js';
import type { MfaDeps } from './deps.js';

export type FactorKind = 'totp' | 'recovery_code' | 'passkey';

export type AttemptOutcome = { ok: true } | { ok: false; message: string; status: number };

export const WRONG_CODE = 'That code is not right. Check your authenticator app and try again.';

export async function secondFactorAttempt(
  ctx: Context,
  deps: MfaDeps,
  attempt: { userId: string; clientId: string | null; factor: FactorKind; stepUp: boolean },
  verify: () => Promise<boolean>,
): Promise<AttemptOutcome> {
  const user = await getUserById(deps.prisma, attempt.userId);
  if (!user || user.disabled) return { ok: false, message: 'This account cannot sign in.', status: 403 };
  const ipKey = clientAddressKey(ctx.ip);
  const accountKey = `${ipKey}|${createHash('sha256').update(user.email).digest('base64url')}`;
  const byIp = await deps.loginLimiter.consume(ipKey);
  setRateLimitHeaders(ctx, byIp);
  const byAccount = byIp.allowed ? await deps.loginAccountLimiter.consume(accountKey) : undefined;
  if (byAccount) setRateLimitHeaders(ctx, byAccount);
  const base = { subject: attempt.userId, clientId: attempt.clientId, ip: ctx.ip };
  if (!byIp.allowed || (byAccount && !byAccount.allowed)) {
    const limit = !byIp.allowed ? byIp : byAccount!;
    await deps.audit({ ...base, type: 'mfa.failure', outcome: 'failure', details: { factor: attempt.factor, reason: 'rate_limited', policy: !byIp.allowed ? 'login-ip' : 'login-ip-account' } });
    const minutes = Math.ceil(limit.resetSeconds / 60);
    return { ok: false, status: 429, message: `Too many failed attempts from your network. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` };
  }

  const result = await checkSecondFactor(deps.prisma, deps.config.lockout, attempt.userId, verify);
  if (!result.ok) {
    await deps.audit({ ...base, type: 'mfa.failure', outcome: 'failure', details: { factor: attempt.factor, reason: result.reason, step_up: attempt.stepUp } });
    if (result.lockedNow) {
      await deps.audit({
        ...base,
        type: 'account.locked',
        outcome: 'success',
        details: {
          failed_attempts: deps.config.lockout.threshold,
          window_seconds: deps.config.lockout.windowSeconds,
          locked_until: result.lockedUntil?.toISOString() ?? null,
        },
      });
    }
    if (result.reason === 'account_locked' || result.lockedNow) {
      return { ok: false, status: 400, message: 'Too many wrong codes: this account is locked for a while. Try again later.' };
    }
    return { ok: false, status: 400, message: attempt.factor === 'passkey' ? 'The passkey could not be verified. Try again, or choose another way.' : WRONG_CODE };
  }
  await Promise.all([deps.loginLimiter.refund(ipKey), deps.loginAccountLimiter.refund(accountKey)]);
  await deps.audit({ ...base, type: 'mfa.success', outcome: 'success', details: { factor: attempt.factor, step_up: attempt.stepUp } });
  return { ok: true };
}
