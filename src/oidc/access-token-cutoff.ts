// JWT access tokens (RFC 9068) are not stored, so a grant's cannot be deleted with its stored
// tokens. Instead a cutoff is recorded per grant: its JWTs issued up to that moment read as
// inactive at introspection (src/oidc/jwt-token-state.ts). The latest cutoff wins; the row is
// kept as long as any token issued before it could live, then swept.
import { MAX_TOKEN_TTL_SECONDS } from '../config.js';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/unique-violation.js';

export async function cutOffAccessTokens(prisma: Db, grantIds: readonly string[], at = new Date()): Promise<void> {
  const expiresAt = new Date(at.getTime() + MAX_TOKEN_TTL_SECONDS * 1000);
  for (const grantId of grantIds) {
    const write = () => prisma.grantAccessTokenCutoff.upsert({ where: { grantId }, create: { grantId, revokedAt: at, expiresAt }, update: { revokedAt: at, expiresAt } });
    try {
      await write();
    } catch (error) {
      // Two cutoffs of one grant at once: both inserted; the second write updates.
      if (!isUniqueViolation(error)) throw error;
      await write();
    }
  }
}
