// The client registry: plain functions over Prisma, used by the admin CLI, the seed and tests.
// Every write validates the complete metadata (src/clients/metadata.ts) and the APIs it names.
// A secret leaves this module once, in the return value of the call that generated it; only its
// hash is stored (src/clients/secrets.ts), and no read returns either.
import { randomBytes, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/client.js';
import { isUniqueViolation } from '../db/unique-violation.js';
import { Prisma } from '../db/generated/sqlite/client.js';
import { RegistryError } from './errors.js';
import { specOfRow, specOfView, viewOf, type ClientView } from './client-view.js';
import {
  PROFILE_DERIVED_FIELDS,
  clientInputObject,
  clientInputSchema,
  needsClientSecret,
  settingsOf,
  type ClientInput,
  type ClientJwks,
  type ClientSpec,
  type TokenEndpointAuthMethod,
} from './metadata.js';
import { generateClientSecret, hashClientSecret, secretsValidAt } from './secrets.js';
import { storedStrings } from './stored.js';

export { RegistryError } from './errors.js';
export type { ClientView } from './client-view.js';

type Tx = Prisma.TransactionClient;

export type CreatedClient = { client: ClientView; clientSecret?: string };

/** The longest a rotated-out secret may stay valid. */
const MAX_SECRET_OVERLAP_SECONDS = 30 * 86_400;

const CLIENT_INCLUDE = {
  apis: { include: { api: true } },
  defaultApi: true,
  secrets: { select: { createdAt: true, expiresAt: true }, orderBy: { createdAt: 'asc' } },
} as const satisfies Prisma.ClientInclude;

type ClientRow = Prisma.ClientGetPayload<{ include: typeof CLIENT_INCLUDE }>;

function toView(row: ClientRow): ClientView {
  return viewOf(specOfRow(row), {
    client_id: row.id,
    disabled: row.disabled,
    client_secrets: row.secrets.map((s) => ({ created_at: s.createdAt.toISOString(), expires_at: s.expiresAt?.toISOString() ?? null })),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  });
}

/** Validates the input completely; every problem is reported, each naming its field. */
function parseClientInput(input: unknown): ClientSpec {
  const parsed = clientInputSchema.safeParse(input);
  if (!parsed.success) throw RegistryError.fromZod('client metadata', parsed.error);
  return parsed.data;
}

/** Resolves the APIs a client names to rows, checking that each exists and has the scopes named. */
async function resolveApis(tx: Tx, spec: ClientSpec): Promise<{ apiIds: Map<string, string>; problems: string[] }> {
  const identifiers = spec.apis.map((a) => a.identifier);
  // A resource server's API is its default_api alone (src/clients/metadata.ts).
  const standsFor = spec.profile === 'resource-server' ? spec.default_api : null;
  if (standsFor !== null) identifiers.push(standsFor);
  const rows = identifiers.length ? await tx.api.findMany({ where: { identifier: { in: identifiers } } }) : [];
  const byIdentifier = new Map(rows.map((row) => [row.identifier, row]));
  const problems: string[] = [];
  spec.apis.forEach((wanted, index) => {
    const api = byIdentifier.get(wanted.identifier);
    if (!api) {
      problems.push(`apis[${index}].identifier: no API is registered with identifier "${wanted.identifier}"`);
      return;
    }
    const offered = new Set(storedStrings(api.scopes, `scopes of API ${api.identifier}`));
    wanted.scopes.forEach((scope, scopeIndex) => {
      if (!offered.has(scope)) problems.push(`apis[${index}].scopes[${scopeIndex}]: "${scope}" is not a scope of API ${api.identifier}`);
    });
  });
  if (standsFor !== null && !byIdentifier.has(standsFor)) problems.push(`default_api: no API is registered with identifier "${standsFor}"`);
  return { apiIds: new Map(rows.map((row) => [row.identifier, row.id])), problems };
}

function columnsOf(spec: ClientSpec, apiIds: Map<string, string>) {
  return {
    name: spec.name,
    type: spec.type,
    profile: spec.profile,
    grantTypes: spec.grant_types,
    redirectUris: spec.redirect_uris,
    postLogoutRedirectUris: spec.post_logout_redirect_uris,
    corsOrigins: spec.cors_origins,
    scope: spec.scope.join(' '),
    tokenEndpointAuthMethod: spec.token_endpoint_auth_method,
    jwks: spec.jwks ? (spec.jwks as Prisma.InputJsonValue) : Prisma.DbNull,
    firstParty: spec.first_party,
    requireMfa: spec.require_mfa,
    defaultApiId: spec.default_api ? apiIds.get(spec.default_api)! : null,
    introspectionSignedResponseAlg: spec.introspection_signed_response_alg,
    backchannelLogoutUri: spec.backchannel_logout_uri,
    backchannelLogoutSessionRequired: spec.backchannel_logout_session_required,
  };
}

async function writeClientApis(tx: Tx, clientId: string, spec: ClientSpec, apiIds: Map<string, string>): Promise<void> {
  await tx.clientApi.deleteMany({ where: { clientId } });
  if (spec.apis.length) {
    await tx.clientApi.createMany({
      data: spec.apis.map((a) => ({ clientId, apiId: apiIds.get(a.identifier)!, scopes: a.scopes })),
    });
  }
}

async function storeNewSecret(tx: Tx, clientId: string): Promise<string> {
  const clientSecret = generateClientSecret();
  await tx.clientSecret.create({ data: { id: randomUUID(), clientId, hash: hashClientSecret(clientSecret) } });
  return clientSecret;
}

async function readClient(tx: Tx | Db, clientId: string): Promise<ClientView> {
  const row = await tx.client.findUnique({ where: { id: clientId }, include: CLIENT_INCLUDE });
  if (!row) throw new RegistryError('not_found', `no client with client_id ${clientId}`);
  return toView(row);
}

/** A client_id: 128 random bits, URL-safe (it travels in URLs and Basic credentials). */
/** Random and URL-safe; never starting with "-", which the CLI would read as an option (1 in 64 did). */
export function newClientId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * A client_id an administrator chooses (a seed file names its clients so that apps can be
 * configured with them). RFC 6749 Appendix A.1 allows any VSCHAR; we keep to URL-safe
 * characters, which need no escaping in URLs or in Basic credentials (RFC 6749 §2.3.1).
 */
export const clientIdSchema = z
  .string({ message: 'must be a string' })
  .regex(/^[A-Za-z0-9._~-]{3,100}$/, 'must be 3 to 100 characters of A-Z, a-z, 0-9, ".", "_", "~" or "-"');

export async function createClient(prisma: Db, input: ClientInput, options: { clientId?: string } = {}): Promise<CreatedClient> {
  const spec = parseClientInput(input);
  if (options.clientId !== undefined) {
    const parsedId = clientIdSchema.safeParse(options.clientId);
    if (!parsedId.success) throw RegistryError.invalid('client_id', parsedId.error.issues.map((i) => `client_id: ${i.message}`));
  }
  const clientId = options.clientId ?? newClientId();
  try {
    return await prisma.$transaction(async (tx) => {
      const { apiIds, problems } = await resolveApis(tx, spec);
      if (problems.length) throw RegistryError.invalid('client metadata', problems);
      // The insert itself decides a chosen client_id's owner: a look-up first would let
      // concurrent writers (two seeds at once) all pass it.
      await tx.client.create({ data: { id: clientId, ...columnsOf(spec, apiIds) } });
      await writeClientApis(tx, clientId, spec, apiIds);
      const clientSecret = needsClientSecret(spec.token_endpoint_auth_method) ? await storeNewSecret(tx, clientId) : undefined;
      const client = await readClient(tx, clientId);
      return clientSecret ? { client, clientSecret } : { client };
    });
  } catch (error) {
    if (options.clientId !== undefined && isUniqueViolation(error)) {
      throw new RegistryError('conflict', `a client with client_id ${clientId} already exists`);
    }
    throw error;
  }
}

/** A patch may also clear the default API or the JWKS with null. */
const clientUpdateSchema = clientInputObject.partial().extend({
  default_api: clientInputObject.shape.default_api.unwrap().nullable().optional(),
  jwks: clientInputObject.shape.jwks.unwrap().nullable().optional(),
  introspection_signed_response_alg: clientInputObject.shape.introspection_signed_response_alg.unwrap().nullable().optional(),
  backchannel_logout_uri: clientInputObject.shape.backchannel_logout_uri.unwrap().nullable().optional(),
});
export type ClientUpdate = Omit<z.input<typeof clientUpdateSchema>, 'jwks'> & { jwks?: ClientJwks | null };

/**
 * Applies a partial update and re-validates the whole client. Changing the profile re-derives
 * the profile's defaults (grant types, auth method, scope) unless the patch names them. When the
 * update moves the client to a secret-based auth method and it has no valid secret, a new one is
 * generated and returned (once); moving away from secrets deletes the stored hashes.
 */
export async function updateClient(prisma: Db, clientId: string, patch: ClientUpdate): Promise<CreatedClient> {
  const parsedPatch = clientUpdateSchema.safeParse(patch);
  if (!parsedPatch.success) throw RegistryError.fromZod('client update', parsedPatch.error);
  const changes = parsedPatch.data;
  return prisma.$transaction(async (tx) => {
    const current = await readClient(tx, clientId);
    // The stored client as registry input (an absent field, not null), so that the update is
    // validated as a whole.
    const merged: Record<string, unknown> = Object.fromEntries(
      Object.entries(settingsOf(specOfView(current))).filter(([, value]) => value !== null),
    );
    if (changes.profile !== undefined && changes.profile !== current.profile) {
      for (const field of PROFILE_DERIVED_FIELDS) delete merged[field];
    }
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      if (value === null) delete merged[key];
      else merged[key] = value;
    }
    const spec = parseClientInput(merged);
    const { apiIds, problems } = await resolveApis(tx, spec);
    if (problems.length) throw RegistryError.invalid('client metadata', problems);

    await tx.client.update({ where: { id: clientId }, data: columnsOf(spec, apiIds) });
    await writeClientApis(tx, clientId, spec, apiIds);
    let clientSecret: string | undefined;
    if (needsClientSecret(spec.token_endpoint_auth_method)) {
      const valid = await tx.clientSecret.count({ where: { clientId, ...secretsValidAt(new Date()) } });
      if (valid === 0) clientSecret = await storeNewSecret(tx, clientId);
    } else {
      await tx.clientSecret.deleteMany({ where: { clientId } });
    }
    const client = await readClient(tx, clientId);
    return clientSecret ? { client, clientSecret } : { client };
  });
}

export async function getClient(prisma: Db, clientId: string): Promise<ClientView | null> {
  const row = await prisma.client.findUnique({ where: { id: clientId }, include: CLIENT_INCLUDE });
  return row ? toView(row) : null;
}

export async function listClients(prisma: Db): Promise<ClientView[]> {
  const rows = await prisma.client.findMany({ include: CLIENT_INCLUDE, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map(toView);
}

/** A disabled client is unknown to the provider: every request naming it gets invalid_client. */
export async function setClientDisabled(prisma: Db, clientId: string, disabled: boolean): Promise<ClientView> {
  const { count } = await prisma.client.updateMany({ where: { id: clientId }, data: { disabled } });
  if (count === 0) throw new RegistryError('not_found', `no client with client_id ${clientId}`);
  return readClient(prisma, clientId);
}

/**
 * Deletes the client, its secrets and API permissions (cascade), and everything oidc-provider
 * stored for it: grants, codes, device codes, refresh tokens and opaque access tokens. JWT access
 * tokens are not stored anywhere and stay valid until they expire (short, per API).
 */
export async function deleteClient(prisma: Db, clientId: string): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const existing = await tx.client.findUnique({ where: { id: clientId }, select: { id: true } });
    if (!existing) throw new RegistryError('not_found', `no client with client_id ${clientId}`);
    const ofClient = { where: { clientId } };
    await tx.accessToken.deleteMany(ofClient);
    await tx.refreshToken.deleteMany(ofClient);
    await tx.authorizationCode.deleteMany(ofClient);
    await tx.deviceCode.deleteMany(ofClient);
    await tx.clientCredentials.deleteMany(ofClient);
    await tx.backchannelAuthenticationRequest.deleteMany(ofClient);
    await tx.pushedAuthorizationRequest.deleteMany(ofClient);
    await tx.interaction.deleteMany(ofClient);
    await tx.grant.deleteMany(ofClient);
    await tx.client.delete({ where: { id: clientId } });
  });
}

const rotationSchema = z.strictObject({
  overlapSeconds: z
    .number({ message: 'must be a number of seconds' })
    .int('must be a whole number of seconds')
    .min(0, 'must not be negative')
    .max(MAX_SECRET_OVERLAP_SECONDS, `must be at most ${MAX_SECRET_OVERLAP_SECONDS} seconds (30 days)`),
});

/**
 * Issues a new secret. Secrets valid now stay valid for `overlapSeconds` more (never longer than
 * they already would), so deployments can switch over without downtime; 0 retires them at once.
 * Returns the new secret (shown once) and when the previous one stops working (null when there
 * was none).
 */
export async function rotateClientSecret(
  prisma: Db,
  clientId: string,
  options: { overlapSeconds: number },
): Promise<{ clientSecret: string; previousExpiresAt: Date | null }> {
  const parsed = rotationSchema.safeParse(options);
  if (!parsed.success) throw RegistryError.fromZod('secret rotation', parsed.error);
  const { overlapSeconds } = parsed.data;
  return prisma.$transaction(async (tx) => {
    const client = await tx.client.findUnique({ where: { id: clientId }, select: { tokenEndpointAuthMethod: true } });
    if (!client) throw new RegistryError('not_found', `no client with client_id ${clientId}`);
    const method = client.tokenEndpointAuthMethod as TokenEndpointAuthMethod;
    if (!needsClientSecret(method)) {
      throw new RegistryError('invalid', `client ${clientId} authenticates with ${method} and has no secret to rotate`);
    }
    const now = new Date();
    const retireAt = new Date(now.getTime() + overlapSeconds * 1000);
    const previous = await tx.clientSecret.findMany({ where: { clientId, ...secretsValidAt(now) }, select: { expiresAt: true } });
    // Expired rows are dead weight; valid ones are cut short to the overlap.
    await tx.clientSecret.deleteMany({ where: { clientId, expiresAt: { lte: now } } });
    await tx.clientSecret.updateMany({
      where: { clientId, ...secretsValidAt(retireAt) },
      data: { expiresAt: retireAt },
    });
    const clientSecret = await storeNewSecret(tx, clientId);
    const previousExpiresAt = previous.length
      ? new Date(Math.max(...previous.map((s) => Math.min(s.expiresAt?.getTime() ?? Infinity, retireAt.getTime()))))
      : null;
    return { clientSecret, previousExpiresAt };
  });
}

/** Every CORS origin registered by an enabled client (for answering preflight requests). */
export async function registeredCorsOrigins(prisma: Db): Promise<Set<string>> {
  const rows = await prisma.client.findMany({ where: { disabled: false }, select: { id: true, corsOrigins: true } });
  return new Set(rows.flatMap((row) => storedStrings(row.corsOrigins, `CORS origins of client ${row.id}`)));
}
