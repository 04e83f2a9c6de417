// The sign-in a second factor is about to complete, between pages of one interaction. After a
// right password nothing is signed in yet: the person, and how they got this far (amr), travel
// in a cookie signed with the provider's cookie keys (Koa's signed cookies, app.keys), HttpOnly,
// SameSite=Lax, scoped to this interaction's path and naming its uid, for the interaction's
// lifetime at most. The interaction ends when the second factor succeeds, so the cookie cannot
// be used for another sign-in. A person already signed in who is asked to step up needs no
// cookie: the session says who they are (src/mfa/sign-in-step.ts).
import type { Context } from 'koa';
import { z } from 'zod';
import { INTERACTION_PATH } from '../http/endpoints.js';

const COOKIE = 'gatehouse.mfa';

const pendingSchema = z.strictObject({
  uid: z.string(),
  accountId: z.string().min(1),
  amr: z.array(z.string()).max(10),
  /** Set once a factor was enrolled during this sign-in: only the recovery codes page is left. */
  enrolled: z.enum(['otp', 'hwk', 'swk']).optional(),
  exp: z.number(),
});

export type PendingSignIn = Omit<z.infer<typeof pendingSchema>, 'uid' | 'exp'>;

/** `ttlSeconds`: the interaction's lifetime; the cookie never outlives it. */
export function setPending(ctx: Context, uid: string, pending: PendingSignIn, ttlSeconds: number): void {
  const value = Buffer.from(JSON.stringify({ ...pending, uid, exp: Date.now() + ttlSeconds * 1000 })).toString('base64url');
  ctx.cookies.set(COOKIE, value, {
    path: `${INTERACTION_PATH}/${uid}`,
    httpOnly: true,
    sameSite: 'lax',
    secure: ctx.secure,
    signed: true,
    maxAge: ttlSeconds * 1000,
    overwrite: true,
  });
}

export function readPending(ctx: Context, uid: string): PendingSignIn | undefined {
  const raw = ctx.cookies.get(COOKIE, { signed: true });
  if (!raw) return undefined;
  try {
    const parsed = pendingSchema.safeParse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    if (!parsed.success || parsed.data.uid !== uid || parsed.data.exp < Date.now()) return undefined;
    const { uid: _uid, exp: _exp, ...pending } = parsed.data;
    return pending;
  } catch {
    return undefined;
  }
}

export function clearPending(ctx: Context, uid: string): void {
  ctx.cookies.set(COOKIE, null, { path: `${INTERACTION_PATH}/${uid}`, signed: true, overwrite: true });
}
