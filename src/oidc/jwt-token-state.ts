// Whether a verified JWT access token still stands (src/oidc/jwt-access-tokens.ts), read in one
// database statement: introspection sits on every API request (RFC 7662 §1), and the five facts
// it needs (token revoked, client disabled, person disabled, grant still there, grant's tokens
// cut off since) cost five look-ups through Prisma's model API in two round trips. One raw
// statement returns them all; every comparison (expiry, cut-off time) is made in SQL against
// values in the columns' own encodings (src/db/raw-sql.ts), so nothing is parsed but flags.
import { z } from 'zod';
import type { DbKind } from '../db/migrations/paths.js';
import { parameter, sqlBoolean, timestampParameter, timestampValue } from '../db/raw-sql.js';
import type { DirectSql } from '../db/direct-sql.js';

const stateRow = z.object({
  revoked: sqlBoolean,
  /** null: no such client (deleted). */
  clientDisabled: sqlBoolean.nullable(),
  userDisabled: sqlBoolean.nullable().optional(),
  grantLive: sqlBoolean.optional(),
  cutOff: sqlBoolean.optional(),
});
export type TokenState = z.infer<typeof stateRow>;

export type TokenStateQuery = { jti: string; clientId: string } & ({ grantId: string; accountId: string; issuedAt: Date } | { grantId?: undefined });

/** Parameters are named here and numbered (PostgreSQL) or repeated in order (SQLite) below. */
type Param = 'jti' | 'clientId' | 'accountId' | 'grantId' | 'now' | 'issuedAt';

function statement(kind: DbKind, withGrant: boolean): { sql: string; order: Param[] } {
  const order: Param[] = [];
  const slot = (name: Param, timestamp = false) => {
    // PostgreSQL refers to one numbered parameter as often as needed; SQLite's `?` are positional.
    const existing = kind === 'postgresql' ? order.indexOf(name) : -1;
    const n = existing >= 0 ? existing + 1 : order.push(name);
    return timestamp ? timestampParameter(kind, n) : parameter(kind, n);
  };
  const columns = [
    `EXISTS (SELECT 1 FROM "RevokedAccessToken" WHERE "jti" = ${slot('jti')}) AS "revoked"`,
    `(SELECT "disabled" FROM "Client" WHERE "id" = ${slot('clientId')}) AS "clientDisabled"`,
  ];
  if (withGrant) {
    columns.push(
      `(SELECT "disabled" FROM "User" WHERE "id" = ${slot('accountId')}) AS "userDisabled"`,
      `EXISTS (SELECT 1 FROM "Grant" WHERE "id" = ${slot('grantId')} AND "clientId" = ${slot('clientId')} AND "accountId" = ${slot('accountId')} AND ("expiresAt" IS NULL OR "expiresAt" > ${slot('now', true)})) AS "grantLive"`,
      // A revocation in the second the token was issued counts as after it (iat has whole seconds).
      `EXISTS (SELECT 1 FROM "GrantAccessTokenCutoff" WHERE "grantId" = ${slot('grantId')} AND "revokedAt" >= ${slot('issuedAt', true)}) AS "cutOff"`,
    );
  }
  return { sql: `SELECT ${columns.join(', ')}`, order };
}

/** The state of a token, read in one statement. */
export function tokenStateReader(sql: DirectSql, kind: DbKind): (query: TokenStateQuery) => Promise<TokenState> {
  const statements = { client: statement(kind, false), grant: statement(kind, true) };
  return async (query) => {
    const { sql: text, order } = query.grantId === undefined ? statements.client : statements.grant;
    const values: Record<Param, string | undefined> = {
      jti: query.jti,
      clientId: query.clientId,
      accountId: query.grantId === undefined ? undefined : query.accountId,
      grantId: query.grantId,
      now: timestampValue(kind, new Date()),
      issuedAt: query.grantId === undefined ? undefined : timestampValue(kind, query.issuedAt),
    };
    const rows = await sql.query(text, order.map((name) => values[name] ?? null));
    return stateRow.parse(rows[0]);
  };
}
