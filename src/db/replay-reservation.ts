// Single use of a JWT id (oidc-provider's ReplayDetection model) as one conditional write.
// oidc-provider checks it by find-then-save (lib/models/replay_detection.js), which lets
// concurrent requests all find nothing and all succeed; here the INSERT itself refuses a key
// that is already stored and still live, so exactly one of them wins.
import type { Database } from './client.js';
import { jsonParameter, parameter, timestampParameter, timestampValue } from './raw-sql.js';

/**
 * Stores the key; false when it is already stored and not expired. A row past its expiry that
 * the sweeper has not removed yet is taken over (the JWT it recorded can no longer be accepted
 * anyway: its expiry bounded the row's).
 */
export async function reserveReplayKey(db: Pick<Database, 'sql' | 'provider'>, id: string, payload: unknown, expiresAt: Date | null): Promise<boolean> {
  const { provider } = db;
  const p = (n: number) => parameter(provider, n);
  const now = timestampValue(provider, new Date());
  const expires = expiresAt ? timestampValue(provider, expiresAt) : null;
  // SQLite's positional `?` cannot be reused, so `now` is bound twice.
  const sql =
    `INSERT INTO "ReplayDetection" ("id", "payload", "clientId", "expiresAt", "createdAt") ` +
    `VALUES (${p(1)}, ${jsonParameter(provider, 2)}, ${p(3)}, ${timestampParameter(provider, 4)}, ${timestampParameter(provider, 5)}) ` +
    `ON CONFLICT ("id") DO UPDATE SET "payload" = excluded."payload", "clientId" = excluded."clientId", ` +
    `"expiresAt" = excluded."expiresAt", "createdAt" = excluded."createdAt", "consumedAt" = NULL ` +
    `WHERE "ReplayDetection"."expiresAt" IS NOT NULL AND "ReplayDetection"."expiresAt" <= ${timestampParameter(provider, 6)}`;
  const clientId = (payload as { clientId?: string }).clientId ?? null;
  const changed = await db.sql.execute(sql, [id, JSON.stringify(payload), clientId, expires, now, now]);
  return changed > 0;
}
