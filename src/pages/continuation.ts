// Pages reached from a sign-in (Forgot password?, Create an account) carry the interaction they
// came from, so that the person can go back to it afterwards: its uid, in the query string and in
// the emailed link. It is only ever used to build a link to our own /interaction/:uid page.
import { z } from 'zod';

export const interactionUidSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);

/** The uid if `value` looks like one; undefined otherwise (never an error: it is only a convenience). */
export function interactionUidOf(value: unknown): string | undefined {
  const parsed = interactionUidSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

export function interactionHref(uid: string | undefined): string | undefined {
  return uid ? `/interaction/${encodeURIComponent(uid)}` : undefined;
}
