// How many emails strangers may make us send: per client IP address (MAIL_IP_LIMIT) and per
// recipient address (MAIL_ACCOUNT_LIMIT), whether or not an account has that address, so the
// answer never depends on it. The address is hashed into the key: no addresses in Redis.
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { clientAddressKey, setRateLimitHeaders, type RateLimiter, type RateLimitResult } from '../http/rate-limit.js';

export type MailLimiters = { perIp: RateLimiter; perAddress: RateLimiter };

export type MailBudget = { allowed: true } | { allowed: false; policy: 'mail-ip' | 'mail-account'; limit: RateLimitResult };

export async function spendMailBudget(ctx: Context, limiters: MailLimiters, email: string): Promise<MailBudget> {
  const byIp = await limiters.perIp.consume(clientAddressKey(ctx.ip));
  setRateLimitHeaders(ctx, byIp);
  if (!byIp.allowed) return { allowed: false, policy: 'mail-ip', limit: byIp };
  const byAddress = await limiters.perAddress.consume(createHash('sha256').update(email).digest('base64url'));
  if (!byAddress.allowed) return { allowed: false, policy: 'mail-account', limit: byAddress };
  return { allowed: true };
}
