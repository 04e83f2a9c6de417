// The upstream identity providers people may sign in through: one zod schema is the shape of an
// upstream as the CLI and the seed give it (snake_case), the stored row is derived from it, and
// the view callers see never holds the client secret. The secret is sealed with the key-encryption
// key (AES-256-GCM, src/keys/encryption.ts), bound to the upstream's id as associated data.
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { decryptSecret, encryptSecret, type KeyEncryptionKey } from '../keys/encryption.js';
import { formatZodIssues } from '../util/validation.js';

export type UpstreamErrorCode = 'invalid' | 'duplicate' | 'not_found';

/** The one error type of these functions; `message` is written for the person at the CLI. */
export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly code: UpstreamErrorCode,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(problems.length ? `${message}: ${problems.join('; ')}` : message);
  }
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** https, or http on a loopback host (a development or test upstream). No credentials, no fragment. */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK.has(url.hostname);
}

const urlSchema = z
  .string({ message: 'must be a string' })
  .max(500, 'must be at most 500 characters')
  .refine((value) => !CONTROL.test(value), 'must not contain control characters')
  .superRefine((value, ctx) => {
    const url = URL.parse(value);
    if (!url) return ctx.addIssue({ code: 'custom', message: 'must be an absolute URL' });
    if (url.protocol !== 'https:' && !isLoopbackHttp(url)) ctx.addIssue({ code: 'custom', message: 'must use https (http only for loopback hosts)' });
    if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not contain user information' });
    if (url.hash || value.includes('#')) ctx.addIssue({ code: 'custom', message: 'must not contain a fragment' });
  });

const textSchema = (max: number) =>
  z
    .string({ message: 'must be a string' })
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !CONTROL.test(value), 'must not contain control characters');

/** The id people and scripts name an upstream by (the `idp` parameter, the CLI, audit events). */
const upstreamIdSchema = z
  .string({ message: 'must be a string' })
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1 to 40 lower-case letters, digits, - or _, starting with a letter or digit');

const fieldNameSchema = z
  .string({ message: 'must be a string' })
  .regex(/^[A-Za-z0-9_.:-]{1,100}$/, 'must be a claim or field name (letters, digits, _ . : -)');

/** Which claim (OpenID Connect) or user-info field (plain OAuth 2.0) holds what. */
const claimMappingSchema = z.strictObject({
  /** The stable identifier at the upstream; never an email. */
  subject: fieldNameSchema.default('sub'),
  email: fieldNameSchema.nullable().default('email'),
  /** Without this field, or when it is not `true`, the email counts as unverified. */
  email_verified: fieldNameSchema.nullable().default('email_verified'),
  name: fieldNameSchema.nullable().default('name'),
});
type ClaimMapping = z.output<typeof claimMappingSchema>;

const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/;
const scopesSchema = z.array(z.string().regex(SCOPE, 'must be a scope token (RFC 6749 §3.3)')).max(30, 'must have at most 30 entries');

/**
 * How Gatehouse authenticates to an upstream's token endpoint. private_key_jwt (RFC 7523) signs
 * with Gatehouse's current signing key: the upstream verifies it against <ISSUER>/jwks.
 */
const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

const baseFields = {
  id: upstreamIdSchema,
  display_name: textSchema(100),
  client_id: textSchema(500),
  client_secret: z.string({ message: 'must be a string' }).min(1, 'must not be empty').max(1000, 'must be at most 1000 characters').optional(),
  client_auth_method: z.enum(AUTH_METHODS, { message: `must be one of ${AUTH_METHODS.join(', ')}` }).default('client_secret_basic'),
  claims: claimMappingSchema.default({ subject: 'sub', email: 'email', email_verified: 'email_verified', name: 'name' }),
  create_users: z.boolean({ message: 'must be true or false' }).default(false),
  trust_email: z.boolean({ message: 'must be true or false' }).default(false),
  disabled: z.boolean({ message: 'must be true or false' }).default(false),
};

/** An upstream as the CLI and the seed describe it. */
const upstreamKinds = z.discriminatedUnion('kind', [
  z.strictObject({
    ...baseFields,
    kind: z.literal('oidc'),
    /** Discovery (OpenID Connect Discovery 1.0 §4) is read from here; ID tokens must name it exactly. */
    issuer: urlSchema,
    scopes: scopesSchema.default(['openid', 'email', 'profile']).refine((s) => s.includes('openid'), 'must include openid for an OpenID Connect upstream'),
  }),
  z.strictObject({
    ...baseFields,
    kind: z.literal('oauth2'),
    /** Compared with the `iss` of the authorization response when the upstream sends one (RFC 9207). */
    issuer: urlSchema.optional(),
    authorization_endpoint: urlSchema,
    token_endpoint: urlSchema,
    userinfo_endpoint: urlSchema,
    scopes: scopesSchema.default([]),
  }),
]);

export const upstreamInputSchema = upstreamKinds.superRefine((spec, ctx) => {
  if (spec.client_auth_method === 'private_key_jwt' && spec.client_secret !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['client_secret'], message: 'must not be given with private_key_jwt (Gatehouse signs with its own key)' });
  }
});
export type UpstreamInput = z.input<typeof upstreamInputSchema>;
type UpstreamSpec = z.output<typeof upstreamInputSchema>;

/** What may change after creation (the id and kind stay: identities are recorded under them). */
const upstreamPatchSchema = z.strictObject({
  display_name: baseFields.display_name.optional(),
  client_id: baseFields.client_id.optional(),
  client_secret: baseFields.client_secret,
  client_auth_method: z.enum(AUTH_METHODS).optional(),
  scopes: scopesSchema.optional(),
  issuer: urlSchema.optional(),
  authorization_endpoint: urlSchema.optional(),
  token_endpoint: urlSchema.optional(),
  userinfo_endpoint: urlSchema.optional(),
  claims: claimMappingSchema.partial().optional(),
  create_users: z.boolean().optional(),
  trust_email: z.boolean().optional(),
  disabled: z.boolean().optional(),
});
export type UpstreamPatch = z.input<typeof upstreamPatchSchema>;

/** An upstream as callers see it: everything but the secret (only whether there is one). */
export type UpstreamView = {
  id: string;
  display_name: string;
  kind: 'oidc' | 'oauth2';
  issuer: string;
  authorization_endpoint: string | null;
  token_endpoint: string | null;
  userinfo_endpoint: string | null;
  client_id: string;
  client_auth_method: (typeof AUTH_METHODS)[number];
  has_client_secret: boolean;
  scopes: string[];
  claims: ClaimMapping;
  create_users: boolean;
  trust_email: boolean;
  disabled: boolean;
  created_at: string;
  updated_at: string;
};

/** What sign-in needs: the view and the decrypted secret. */
export type UpstreamWithSecret = UpstreamView & { clientSecret: string | undefined };

type UpstreamRow = NonNullable<Awaited<ReturnType<Db['upstreamProvider']['findUnique']>>>;

/** The stored row, read back through zod (its JSON column and enums are not trusted as typed). */
const rowShape = z.object({
  kind: z.enum(['oidc', 'oauth2']),
  clientAuthMethod: z.enum(AUTH_METHODS),
  claimMapping: claimMappingSchema,
});

function toView(row: UpstreamRow): UpstreamView {
  const checked = rowShape.parse(row);
  return {
    id: row.id,
    display_name: row.displayName,
    kind: checked.kind,
    issuer: row.issuer,
    authorization_endpoint: row.authorizationEndpoint,
    token_endpoint: row.tokenEndpoint,
    userinfo_endpoint: row.userinfoEndpoint,
    client_id: row.clientId,
    client_auth_method: checked.clientAuthMethod,
    has_client_secret: row.clientSecretEnc !== null,
    scopes: row.scopes ? row.scopes.split(' ') : [],
    claims: checked.claimMapping,
    create_users: row.createUsers,
    trust_email: row.trustEmail,
    disabled: row.disabled,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

function parse<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new UpstreamError('invalid', `invalid ${what}`, formatZodIssues(parsed.error));
}

const secretAad = (id: string) => `upstream-client-secret:${id}`;

/** A plain OAuth 2.0 upstream without a configured issuer is known by its authorization endpoint's origin. */
function issuerOf(spec: UpstreamSpec): string {
  if (spec.kind === 'oidc') return spec.issuer;
  return spec.issuer ?? new URL(spec.authorization_endpoint).origin;
}

export async function createUpstream(prisma: Db, kek: KeyEncryptionKey, input: UpstreamInput): Promise<UpstreamView> {
  const spec = parse(upstreamInputSchema, input, 'upstream');
  try {
    const row = await prisma.upstreamProvider.create({
      data: {
        id: spec.id,
        displayName: spec.display_name,
        kind: spec.kind,
        issuer: issuerOf(spec),
        authorizationEndpoint: spec.kind === 'oauth2' ? spec.authorization_endpoint : null,
        tokenEndpoint: spec.kind === 'oauth2' ? spec.token_endpoint : null,
        userinfoEndpoint: spec.kind === 'oauth2' ? spec.userinfo_endpoint : null,
        clientId: spec.client_id,
        clientSecretEnc: spec.client_secret ? encryptSecret(kek, spec.client_secret, secretAad(spec.id)) : null,
        clientAuthMethod: spec.client_auth_method,
        scopes: spec.scopes.join(' '),
        claimMapping: spec.claims,
        createUsers: spec.create_users,
        trustEmail: spec.trust_email,
        disabled: spec.disabled,
      },
    });
    return toView(row);
  } catch (error) {
    if (isUniqueViolation(error)) throw new UpstreamError('duplicate', `an upstream with id ${spec.id} already exists`);
    throw error;
  }
}

export async function updateUpstream(prisma: Db, kek: KeyEncryptionKey, id: string, patch: UpstreamPatch): Promise<UpstreamView> {
  const current = await getUpstream(prisma, id);
  if (!current) throw new UpstreamError('not_found', `no upstream with id ${id}`);
  const changes = parse(upstreamPatchSchema, patch, 'upstream update');
  if (current.kind === 'oidc' && (changes.authorization_endpoint || changes.token_endpoint || changes.userinfo_endpoint)) {
    throw new UpstreamError('invalid', 'an OpenID Connect upstream takes its endpoints from discovery; they cannot be set');
  }
  if (current.kind === 'oidc' && changes.scopes && !changes.scopes.includes('openid')) {
    throw new UpstreamError('invalid', 'invalid upstream update', ['scopes: must include openid for an OpenID Connect upstream']);
  }
  const row = await prisma.upstreamProvider.update({
    where: { id: current.id },
    data: {
      ...(changes.display_name !== undefined ? { displayName: changes.display_name } : {}),
      ...(changes.client_id !== undefined ? { clientId: changes.client_id } : {}),
      ...(changes.client_secret !== undefined ? { clientSecretEnc: encryptSecret(kek, changes.client_secret, secretAad(current.id)) } : {}),
      ...(changes.client_auth_method !== undefined ? { clientAuthMethod: changes.client_auth_method } : {}),
      ...(changes.scopes !== undefined ? { scopes: changes.scopes.join(' ') } : {}),
      ...(changes.issuer !== undefined ? { issuer: changes.issuer } : {}),
      ...(changes.authorization_endpoint !== undefined ? { authorizationEndpoint: changes.authorization_endpoint } : {}),
      ...(changes.token_endpoint !== undefined ? { tokenEndpoint: changes.token_endpoint } : {}),
      ...(changes.userinfo_endpoint !== undefined ? { userinfoEndpoint: changes.userinfo_endpoint } : {}),
      ...(changes.claims !== undefined ? { claimMapping: { ...current.claims, ...stripUndefined(changes.claims) } } : {}),
      ...(changes.create_users !== undefined ? { createUsers: changes.create_users } : {}),
      ...(changes.trust_email !== undefined ? { trustEmail: changes.trust_email } : {}),
      ...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}),
    },
  });
  return toView(row);
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export async function getUpstream(prisma: Db, id: string): Promise<UpstreamView | null> {
  if (!upstreamIdSchema.safeParse(id).success) return null;
  const row = await prisma.upstreamProvider.findUnique({ where: { id } });
  return row ? toView(row) : null;
}

/** An enabled upstream with its secret decrypted, for signing in; null when unknown or disabled. */
export async function loadEnabledUpstream(prisma: Db, kek: KeyEncryptionKey, id: string): Promise<UpstreamWithSecret | null> {
  if (!upstreamIdSchema.safeParse(id).success) return null;
  const row = await prisma.upstreamProvider.findUnique({ where: { id } });
  if (!row || row.disabled) return null;
  return { ...toView(row), clientSecret: row.clientSecretEnc ? decryptSecret(kek, row.clientSecretEnc, secretAad(row.id)) : undefined };
}

export async function listUpstreams(prisma: Db, { enabledOnly = false }: { enabledOnly?: boolean } = {}): Promise<UpstreamView[]> {
  const rows = await prisma.upstreamProvider.findMany({ where: enabledOnly ? { disabled: false } : {}, orderBy: [{ displayName: 'asc' }, { id: 'asc' }] });
  return rows.map(toView);
}

/** Deleting an upstream deletes the identities linked through it (people keep their accounts). */
export async function deleteUpstream(prisma: Db, id: string): Promise<{ identities: number }> {
  const current = await getUpstream(prisma, id);
  if (!current) throw new UpstreamError('not_found', `no upstream with id ${id}`);
  const identities = await prisma.linkedIdentity.count({ where: { upstreamId: current.id } });
  const { count } = await prisma.upstreamProvider.deleteMany({ where: { id: current.id } });
  if (count === 0) throw new UpstreamError('not_found', `no upstream with id ${id}`);
  return { identities };
}
