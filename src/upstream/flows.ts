// Sign-ins in progress at an upstream (table UpstreamAuthorization). A row holds the checks of one
// authorization response (state, nonce, PKCE verifier), the interaction it resumes, and the hash
// of a random value kept in a cookie of the browser that started it: a callback is accepted only
// from that browser (RFC 9700 §4.7: state bound to the user agent), only once (claimed with one
// conditional update, attack classes: check then act), and only before it expires. Rows are found
// by the SHA-256 of `state`, so the table never holds a value the callback URL carries; the PKCE
// verifier is sealed with the key-encryption key (a database reader could otherwise redeem a code).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { decryptSecret, encryptSecret, type KeyEncryptionKey } from '../keys/encryption.js';

export const sha256 = (value: string): string => createHash('sha256').update(value).digest('base64url');

export type NewFlow = {
  state: string;
  browserSecret: string;
  upstreamId: string;
  interactionUid: string;
  nonce: string | null;
  codeVerifier: string;
  ttlSeconds: number;
};

const verifierAad = (id: string) => `upstream-pkce-verifier:${id}`;

export async function recordFlow(prisma: Db, kek: KeyEncryptionKey, flow: NewFlow): Promise<void> {
  const id = sha256(flow.state);
  await prisma.upstreamAuthorization.create({
    data: {
      id,
      upstreamId: flow.upstreamId,
      interactionUid: flow.interactionUid,
      browserHash: sha256(flow.browserSecret),
      nonce: flow.nonce,
      codeVerifier: encryptSecret(kek, flow.codeVerifier, verifierAad(id)),
      expiresAt: new Date(Date.now() + flow.ttlSeconds * 1000),
    },
  });
}

export type ClaimedFlow = { id: string; upstreamId: string; interactionUid: string; nonce: string | null; codeVerifier: string };

export type ClaimRefusal = 'unknown_state' | 'other_browser' | 'already_used' | 'expired';

/** Takes a flow for its one callback; the refusal says why not (for the audit trail only). */
export async function claimFlow(prisma: Db, kek: KeyEncryptionKey, state: string, browserSecret: string | undefined): Promise<{ ok: true; flow: ClaimedFlow } | { ok: false; reason: ClaimRefusal; upstreamId?: string }> {
  const id = sha256(state);
  const now = new Date();
  const browserHash = browserSecret ? sha256(browserSecret) : '';
  const { count } = await prisma.upstreamAuthorization.updateMany({
    where: { id, browserHash, consumedAt: null, expiresAt: { gt: now } },
    data: { consumedAt: now },
  });
  const row = await prisma.upstreamAuthorization.findUnique({ where: { id } });
  if (!row) return { ok: false, reason: 'unknown_state' };
  if (count === 0) {
    const reason: ClaimRefusal = row.browserHash !== browserHash ? 'other_browser' : row.consumedAt ? 'already_used' : 'expired';
    return { ok: false, reason, upstreamId: row.upstreamId };
  }
  return { ok: true, flow: { id: row.id, upstreamId: row.upstreamId, interactionUid: row.interactionUid, nonce: row.nonce, codeVerifier: decryptSecret(kek, row.codeVerifier, verifierAad(row.id)) } };
}

/** What the callback decided, for the interaction to act on (read back through zod). */
const outcomeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('signed_in'), userId: z.string(), upstreamId: z.string(), subject: z.string() }),
  /** An account with the asserted email exists; the person must prove it before the identity is linked. */
  z.object({ type: z.literal('confirm_link'), userId: z.string(), email: z.string(), upstreamId: z.string(), subject: z.string(), upstreamEmail: z.string().nullable() }),
  z.object({ type: z.literal('failed'), upstreamId: z.string(), reason: z.string(), displayName: z.string() }),
]);
export type FlowOutcome = z.infer<typeof outcomeSchema>;

export async function recordOutcome(prisma: Db, flowId: string, outcome: FlowOutcome): Promise<void> {
  await prisma.upstreamAuthorization.updateMany({ where: { id: flowId }, data: { outcome } });
}

/** The outcome waiting for an interaction, without taking it. */
export async function peekOutcome(prisma: Db, interactionUid: string): Promise<{ id: string; outcome: FlowOutcome } | null> {
  const rows = await prisma.upstreamAuthorization.findMany({
    where: { interactionUid, consumedAt: { not: null }, expiresAt: { gt: new Date() } },
    orderBy: { consumedAt: 'desc' },
    take: 1,
  });
  const row = rows[0];
  if (!row || row.outcome === null) return null;
  const parsed = outcomeSchema.safeParse(row.outcome);
  return parsed.success ? { id: row.id, outcome: parsed.data } : null;
}

/** Takes an outcome once: the delete is the reservation, so two requests cannot both act on it. */
export async function takeOutcome(prisma: Db, flowId: string): Promise<boolean> {
  const { count } = await prisma.upstreamAuthorization.deleteMany({ where: { id: flowId } });
  return count === 1;
}
