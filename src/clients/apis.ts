// The API registry: resource servers (RFC 8707) that clients obtain access tokens for. An API's
// identifier is the `aud` of every token issued for it (RFC 9068 §3) and the `resource` value
// clients send, compared as an exact string.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { RegistryError } from './errors.js';
import { NO_CONTROL_CHARACTERS, OIDC_SCOPES, WEB_LOOPBACK_HOSTS, displayNameSchema, hasNoControlCharacters, scopeTokenSchema } from './metadata.js';
import { storedStrings } from './stored.js';
import { MAX_TOKEN_TTL_SECONDS } from '../config.js';

/** Scope names OpenID Connect gives a meaning to (Core §5.4, §11); an API scope must not reuse them. */
const RESERVED_SCOPES = new Set<string>([...OIDC_SCOPES, 'address', 'phone']);
/** urn:<NID>:<NSS> (RFC 8141 §2). A one-letter NID is accepted: RFC 8707 §2 asks only for an absolute URI (RFC 3986). */
const URN = /^urn:[A-Za-z0-9][A-Za-z0-9-]{0,31}:\S+$/;

const DEFAULT_ACCESS_TOKEN_TTL = 900;
const MIN_ACCESS_TOKEN_TTL = 60;

/** Returns why `identifier` cannot name an API, or null. */
function apiIdentifierProblem(identifier: string): string | null {
  if (identifier.startsWith('urn:')) {
    return URN.test(identifier) ? null : 'must be a URN of the form urn:<namespace>:<name> (RFC 8141)';
  }
  const parsed = URL.parse(identifier);
  if (!parsed) return 'must be an absolute URI (https://...) or a URN (urn:...)';
  // RFC 8707 §2: the resource indicator MUST NOT include a fragment and SHOULD NOT include a query.
  if (identifier.includes('#')) return 'must not contain a fragment (RFC 8707 §2)';
  if (parsed.search) return 'must not contain a query (RFC 8707 §2)';
  if (parsed.username || parsed.password) return 'must not contain user information';
  if (parsed.protocol === 'https:') return null;
  if (parsed.protocol === 'http:' && WEB_LOOPBACK_HOSTS.has(parsed.hostname)) return null;
  return 'must use https (http only for loopback hosts), or be a URN';
}

const identifierSchema = z
  .string({ message: 'must be a string' })
  .min(1, 'must not be empty')
  .max(500, 'must be at most 500 characters')
  .refine(hasNoControlCharacters, NO_CONTROL_CHARACTERS)
  .superRefine((value, ctx) => {
    const problem = apiIdentifierProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const apiScopesSchema = z
  .array(scopeTokenSchema)
  .max(100, 'must have at most 100 entries')
  .superRefine((scopes, ctx) => {
    const seen = new Set<string>();
    scopes.forEach((scope, index) => {
      if (RESERVED_SCOPES.has(scope)) {
        ctx.addIssue({ code: 'custom', path: [index], message: `"${scope}" is an OpenID Connect scope and cannot be an API scope` });
      }
      if (seen.has(scope)) ctx.addIssue({ code: 'custom', path: [index], message: 'is listed twice' });
      seen.add(scope);
    });
  });

const ttlSchema = z
  .number({ message: 'must be a number of seconds' })
  .int('must be a whole number of seconds')
  .min(MIN_ACCESS_TOKEN_TTL, `must be at least ${MIN_ACCESS_TOKEN_TTL} seconds`)
  .max(MAX_TOKEN_TTL_SECONDS, `must be at most ${MAX_TOKEN_TTL_SECONDS} seconds`);

export const apiInputSchema = z.strictObject({
  identifier: identifierSchema,
  name: displayNameSchema,
  scopes: apiScopesSchema,
  /** JWT access tokens cannot be revoked one by one, so they are short-lived by default. */
  access_token_ttl: ttlSchema.optional(),
});
export type ApiInput = z.input<typeof apiInputSchema>;

/** The identifier is not updatable: it is the audience of tokens already issued. */
const apiPatchSchema = z.strictObject({
  name: apiInputSchema.shape.name.optional(),
  scopes: apiScopesSchema.optional(),
  access_token_ttl: ttlSchema.optional(),
});
export type ApiPatch = z.input<typeof apiPatchSchema>;

export type ApiView = {
  identifier: string;
  name: string;
  scopes: string[];
  access_token_ttl: number;
  created_at: string;
  updated_at: string;
};

type ApiRow = { identifier: string; name: string; scopes: unknown; accessTokenTtl: number; createdAt: Date; updatedAt: Date };

function toView(row: ApiRow): ApiView {
  return {
    identifier: row.identifier,
    name: row.name,
    scopes: storedStrings(row.scopes, `scopes of API ${row.identifier}`),
    access_token_ttl: row.accessTokenTtl,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export async function createApi(prisma: Db, input: ApiInput): Promise<ApiView> {
  const parsed = apiInputSchema.safeParse(input);
  if (!parsed.success) throw RegistryError.fromZod('API', parsed.error);
  const api = parsed.data;
  try {
    const row = await prisma.api.create({
      data: {
        id: randomUUID(),
        identifier: api.identifier,
        name: api.name,
        scopes: api.scopes,
        accessTokenTtl: api.access_token_ttl ?? DEFAULT_ACCESS_TOKEN_TTL,
      },
    });
    return toView(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw new RegistryError('conflict', `an API with identifier ${api.identifier} already exists`);
    throw error;
  }
}

export async function getApi(prisma: Db, identifier: string): Promise<ApiView | null> {
  const row = await prisma.api.findUnique({ where: { identifier } });
  return row ? toView(row) : null;
}

export async function listApis(prisma: Db): Promise<ApiView[]> {
  const rows = await prisma.api.findMany({ orderBy: { identifier: 'asc' } });
  return rows.map(toView);
}

/**
 * Updates name, scopes or lifetime. Removing a scope also removes it from every client allowed
 * it, in the same transaction, so that no client is left holding a scope the API no longer has.
 */
export async function updateApi(prisma: Db, identifier: string, patch: ApiPatch): Promise<ApiView> {
  const parsed = apiPatchSchema.safeParse(patch);
  if (!parsed.success) throw RegistryError.fromZod('API update', parsed.error);
  const changes = parsed.data;
  return prisma.$transaction(async (tx) => {
    const current = await tx.api.findUnique({ where: { identifier }, include: { clients: true } });
    if (!current) throw new RegistryError('not_found', `no API with identifier ${identifier}`);
    if (changes.scopes) {
      const kept = new Set(changes.scopes);
      for (const grant of current.clients) {
        const scopes = storedStrings(grant.scopes, `scopes of client ${grant.clientId} for API ${identifier}`);
        const remaining = scopes.filter((s) => kept.has(s));
        if (remaining.length !== scopes.length) {
          await tx.clientApi.update({ where: { clientId_apiId: { clientId: grant.clientId, apiId: grant.apiId } }, data: { scopes: remaining } });
        }
      }
    }
    const row = await tx.api.update({
      where: { id: current.id },
      data: {
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.scopes !== undefined ? { scopes: changes.scopes } : {}),
        ...(changes.access_token_ttl !== undefined ? { accessTokenTtl: changes.access_token_ttl } : {}),
      },
    });
    return toView(row);
  });
}

/** Deletes the API; clients lose their permission for it (and it stops being anyone's default). */
export async function deleteApi(prisma: Db, identifier: string): Promise<void> {
  const { count } = await prisma.api.deleteMany({ where: { identifier } });
  if (count === 0) throw new RegistryError('not_found', `no API with identifier ${identifier}`);
}
