// When a sign-in needs a second factor. MFA=off: never. Otherwise a person who has a factor
// always uses it; a person without one enrols one when the sign-in requires a second factor:
// MFA=required, a client registered with require_mfa, or an authorization request whose
// acr_values names the MFA level (OpenID Connect Core §3.1.2.1; we honour it rather than treat it
// as voluntary, so that an application can rely on `acr` for a step-up).
import { z } from 'zod';
import type { GatehouseConfig } from '../config.js';
import type { DirectSql } from '../db/direct-sql.js';
import { parameter, sqlBoolean } from '../db/raw-sql.js';
import { MFA_ACR } from './acr.js';

export type SecondFactorNeed = 'none' | 'challenge' | 'enrol';

export type SignInRequest = { userId: string; clientId: string; acrValues: string | undefined };

type PolicyDeps = { sql: DirectSql; config: Pick<GatehouseConfig, 'mfa' | 'database'> };

const factsRow = z.object({ hasFactor: sqlBoolean, clientRequires: sqlBoolean.nullable() });

/**
 * The person's factors (a confirmed TOTP or a passkey: recovery codes alone do not count, they
 * back one up; as hasSecondFactor in factors.ts) and the client's require_mfa, in one statement:
 * this runs on each sign-in's password step and at each login-prompt check after it (three times
 * per sign-in), where three look-ups through Prisma's model API were nine statements.
 */
function factsStatement(kind: GatehouseConfig['database']['provider']): string {
  // PostgreSQL reuses $1; SQLite's `?` are positional, so the person's id is bound twice.
  const [user, userAgain, client] = kind === 'postgresql' ? [1, 1, 2] : [1, 2, 3];
  return (
    `SELECT (EXISTS (SELECT 1 FROM "MfaTotp" WHERE "userId" = ${parameter(kind, user)} AND "confirmedAt" IS NOT NULL) ` +
    `OR EXISTS (SELECT 1 FROM "MfaPasskey" WHERE "userId" = ${parameter(kind, userAgain)})) AS "hasFactor", ` +
    `(SELECT "requireMfa" FROM "Client" WHERE "id" = ${parameter(kind, client)}) AS "clientRequires"`
  );
}

const FACTS_STATEMENTS = { sqlite: factsStatement('sqlite'), postgresql: factsStatement('postgresql') };

function requestsMfa(acrValues: string | undefined): boolean {
  return (acrValues ?? '').split(' ').includes(MFA_ACR);
}

export async function secondFactorNeed(deps: PolicyDeps, request: SignInRequest): Promise<SecondFactorNeed> {
  if (deps.config.mfa === 'off') return 'none';
  const kind = deps.config.database.provider;
  const args = kind === 'postgresql' ? [request.userId, request.clientId] : [request.userId, request.userId, request.clientId];
  const facts = factsRow.parse((await deps.sql.query(FACTS_STATEMENTS[kind], args))[0]);
  if (facts.hasFactor) return 'challenge';
  const required = deps.config.mfa === 'required' || requestsMfa(request.acrValues) || facts.clientRequires === true;
  return required ? 'enrol' : 'none';
}
