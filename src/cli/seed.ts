// The declarative seed: a JSON file of APIs, clients and people that the database is brought
// to match. Idempotent: what exists and matches is left alone, what differs is updated, what is
// missing is created. Nothing is ever deleted, and no secret or password is ever replaced by a
// seed run: secrets appear only for clients it creates (or whose new auth method needs one).
import { z } from 'zod';
import { passwordProblem } from '../accounts/passwords.js';
import { createUser, emailSchema, getUserByEmail, setUserDisabled, updateUserProfile } from '../accounts/users.js';
import { apiInputSchema, createApi, getApi, updateApi, type ApiPatch } from '../clients/apis.js';
import { specOfView, type ClientView } from '../clients/client-view.js';
import { clientInputObject, clientInputSchema, settingsOf, type ClientSpec } from '../clients/metadata.js';
import { clientIdSchema, createClient, getClient, setClientDisabled, updateClient } from '../clients/registry.js';
import type { Db } from '../db/client.js';
import { formatZodIssues } from '../util/validation.js';
import type { AuditEvent } from '../audit/audit.js';
import type { KeyEncryptionKey } from '../keys/encryption.js';
import {
  createWebhookEndpoint,
  findWebhookEndpointByUrl,
  setWebhookEndpointDisabled,
  updateWebhookEndpoint,
  webhookInputSchema,
  type WebhookInput,
} from '../webhooks/endpoints.js';
import { createUpstream, getUpstream, updateUpstream, upstreamInputSchema, type UpstreamPatch, type UpstreamView } from '../upstream/registry.js';

const seedClientSchema = clientInputObject.extend({
  client_id: clientIdSchema,
  disabled: z.boolean({ message: 'must be true or false' }).optional(),
});

const seedUserSchema = z.strictObject({
  email: emailSchema,
  name: z.string({ message: 'must be a string' }).trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters').optional(),
  email_verified: z.boolean({ message: 'must be true or false' }).optional(),
  /** Used only when the person is created; a seed never changes an existing password. */
  password: z.string({ message: 'must be a string' }).superRefine((password, ctx) => {
    const problem = passwordProblem(password);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  disabled: z.boolean({ message: 'must be true or false' }).optional(),
});

/** A webhook endpoint, known by its URL: a seed creates it (printing its secret once) or updates it. */
const seedWebhookSchema = webhookInputSchema.extend({
  disabled: z.boolean({ message: 'must be true or false' }).optional(),
});

/** The file's outline; entries are checked one by one so that every problem is reported. */
const seedOutlineSchema = z.strictObject({
  $schema: z.string().optional(),
  apis: z.array(z.unknown()).max(1000, 'must have at most 1000 entries').default([]),
  clients: z.array(z.unknown()).max(1000, 'must have at most 1000 entries').default([]),
  users: z.array(z.unknown()).max(10_000, 'must have at most 10000 entries').default([]),
  webhooks: z.array(z.unknown()).max(100, 'must have at most 100 entries').default([]),
  /** Upstream identity providers (src/upstream/registry.ts); a client_secret is used only on creation. */
  upstreams: z.array(z.unknown()).max(100, 'must have at most 100 entries').default([]),
});

export type SeedFile = {
  apis: z.output<typeof apiInputSchema>[];
  clients: z.output<typeof seedClientSchema>[];
  users: z.output<typeof seedUserSchema>[];
  webhooks: z.output<typeof seedWebhookSchema>[];
  upstreams: z.output<typeof upstreamInputSchema>[];
};

/** Zod problems of one entry, placed in the file: `clients[2].redirect_uris[0]: ...`. */
function placed(at: string, error: z.ZodError): string[] {
  return formatZodIssues(error).map((line) => (line.startsWith('(input)') ? `${at}${line.slice('(input)'.length)}` : `${at}.${line}`));
}

/** Parses each entry of a section; problems are prefixed with the entry's place in the file. */
function parseEntries<S extends z.ZodType>(section: string, entries: unknown[], schema: S, problems: string[]): z.output<S>[] {
  const parsed: z.output<S>[] = [];
  entries.forEach((entry, index) => {
    const result = schema.safeParse(entry);
    if (result.success) parsed.push(result.data);
    else problems.push(...placed(`${section}[${index}]`, result.error));
  });
  return parsed;
}

export class SeedValidationError extends Error {
  override name = 'SeedValidationError';
  constructor(readonly problems: string[]) {
    super(`the seed file is invalid:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

function duplicatesAt<T>(items: readonly T[], key: (item: T) => string, where: string, field: string): string[] {
  const seen = new Set<string>();
  return items.flatMap((item, index) => {
    const value = key(item);
    const problem = seen.has(value) ? [`${where}[${index}].${field}: "${value}" appears earlier in the file`] : [];
    seen.add(value);
    return problem;
  });
}

/**
 * Validates the whole file before anything is written: field syntax, every client's complete
 * metadata (profile rules, redirect URIs), duplicates, and that each API a client names is in
 * the file or already registered. Every problem names its place: `clients[2].redirect_uris[0]`.
 */
export async function validateSeed(prisma: Db, raw: unknown): Promise<{ seed: SeedFile; specs: ClientSpec[] }> {
  const outline = seedOutlineSchema.safeParse(raw);
  if (!outline.success) throw new SeedValidationError(formatZodIssues(outline.error));
  const problems: string[] = [];
  const seed: SeedFile = {
    apis: parseEntries('apis', outline.data.apis, apiInputSchema, problems),
    clients: [],
    users: parseEntries('users', outline.data.users, seedUserSchema, problems),
    webhooks: parseEntries('webhooks', outline.data.webhooks, seedWebhookSchema, problems),
    upstreams: parseEntries('upstreams', outline.data.upstreams, upstreamInputSchema, problems),
  };
  problems.push(
    ...duplicatesAt(seed.webhooks, (w) => w.url, 'webhooks', 'url'),
    ...duplicatesAt(seed.apis, (a) => a.identifier, 'apis', 'identifier'),
    ...duplicatesAt(seed.users, (u) => u.email, 'users', 'email'),
    ...duplicatesAt(seed.upstreams, (u) => u.id, 'upstreams', 'id'),
  );
  for (const [index, upstream] of seed.upstreams.entries()) {
    // Identities are recorded under an upstream's id: it cannot turn into another kind.
    const current = await getUpstream(prisma, upstream.id);
    if (current && current.kind !== upstream.kind) problems.push(`upstreams[${index}].kind: "${upstream.id}" is already registered as ${current.kind}; its kind cannot change`);
  }
  const fileApis = new Map(seed.apis.map((a) => [a.identifier, new Set(a.scopes)]));
  const seenClientIds = new Set<string>();
  const specs: ClientSpec[] = [];
  for (const [index, entry] of outline.data.clients.entries()) {
    const parsed = seedClientSchema.safeParse(entry);
    if (!parsed.success) {
      problems.push(...placed(`clients[${index}]`, parsed.error));
      continue;
    }
    const { client_id: clientId, disabled: _disabled, ...input } = parsed.data;
    if (seenClientIds.has(clientId)) problems.push(`clients[${index}].client_id: "${clientId}" appears earlier in the file`);
    seenClientIds.add(clientId);
    // The complete metadata: profile rules, redirect URIs, consistency between fields.
    const resolved = clientInputSchema.safeParse(input);
    if (!resolved.success) {
      problems.push(...placed(`clients[${index}]`, resolved.error));
      continue;
    }
    for (const [apiIndex, grant] of resolved.data.apis.entries()) {
      const scopes = fileApis.get(grant.identifier) ?? (await getApi(prisma, grant.identifier))?.scopes;
      const at = `clients[${index}].apis[${apiIndex}]`;
      if (!scopes) {
        problems.push(`${at}.identifier: no API "${grant.identifier}" in this file or already registered`);
        continue;
      }
      const offered = new Set(scopes);
      grant.scopes.forEach((scope, scopeIndex) => {
        if (!offered.has(scope)) problems.push(`${at}.scopes[${scopeIndex}]: "${scope}" is not a scope of API ${grant.identifier}`);
      });
    }
    seed.clients.push(parsed.data);
    specs.push(resolved.data);
  }
  if (problems.length) throw new SeedValidationError(problems);
  return { seed, specs };
}

export type SeedChange = { kind: 'api' | 'client' | 'user' | 'webhook' | 'upstream'; id: string; action: 'created' | 'updated' | 'unchanged'; fields?: string[] };
/** `secrets`: of clients, by client_id; `webhookSecrets`: of webhook endpoints, by URL. */
export type SeedResult = { changes: SeedChange[]; secrets: Record<string, string>; webhookSecrets: Record<string, string> };

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function changedClientFields(spec: ClientSpec, view: ClientView): string[] {
  // The fields a seed entry controls, in the spec's order; the view lists APIs by identifier.
  const current = settingsOf(specOfView(view));
  const wanted = settingsOf({ ...spec, apis: [...spec.apis].sort((a, b) => a.identifier.localeCompare(b.identifier)) });
  return (Object.keys(current) as (keyof typeof current)[]).filter((field) => !same(wanted[field], current[field]));
}

/**
 * Brings the database to match a validated seed: APIs first (clients name them), then clients,
 * then people. `dryRun` reports what would change and writes nothing.
 */
export async function applySeed(
  prisma: Db,
  { seed, specs }: { seed: SeedFile; specs: ClientSpec[] },
  options: { dryRun: boolean; audit: (event: AuditEvent) => Promise<void>; keyEncryptionKey: () => KeyEncryptionKey },
): Promise<SeedResult> {
  const changes: SeedChange[] = [];
  const secrets: Record<string, string> = {};
  const webhookSecrets: Record<string, string> = {};
  const write = !options.dryRun;

  for (const api of seed.apis) {
    const current = await getApi(prisma, api.identifier);
    if (!current) {
      if (write) {
        await createApi(prisma, api);
        await options.audit({ type: 'api.created', outcome: 'success', details: { identifier: api.identifier, source: 'seed' } });
      }
      changes.push({ kind: 'api', id: api.identifier, action: 'created' });
      continue;
    }
    const patch: ApiPatch = {};
    if (api.name !== current.name) patch.name = api.name;
    if (!same(api.scopes, current.scopes)) patch.scopes = api.scopes;
    if (api.access_token_ttl !== undefined && api.access_token_ttl !== current.access_token_ttl) patch.access_token_ttl = api.access_token_ttl;
    const fields = Object.keys(patch);
    if (fields.length && write) {
      await updateApi(prisma, api.identifier, patch);
      await options.audit({ type: 'api.updated', outcome: 'success', details: { identifier: api.identifier, fields, source: 'seed' } });
    }
    changes.push({ kind: 'api', id: api.identifier, action: fields.length ? 'updated' : 'unchanged', ...(fields.length ? { fields } : {}) });
  }

  for (const [index, client] of seed.clients.entries()) {
    const spec = specs[index]!;
    const { client_id: clientId, disabled, ...input } = client;
    const current = await getClient(prisma, clientId);
    if (!current) {
      if (write) {
        const created = await createClient(prisma, input, { clientId });
        if (created.clientSecret) secrets[clientId] = created.clientSecret;
        if (disabled) await setClientDisabled(prisma, clientId, true);
        await options.audit({ type: 'client.created', outcome: 'success', clientId, details: { profile: spec.profile, source: 'seed' } });
      }
      changes.push({ kind: 'client', id: clientId, action: 'created' });
      continue;
    }
    const fields = changedClientFields(spec, current);
    if (disabled !== undefined && disabled !== current.disabled) fields.push('disabled');
    if (fields.length && write) {
      const metadataChanged = fields.some((f) => f !== 'disabled');
      if (metadataChanged) {
        const updated = await updateClient(prisma, clientId, settingsOf(spec));
        if (updated.clientSecret) secrets[clientId] = updated.clientSecret;
      }
      if (fields.includes('disabled')) await setClientDisabled(prisma, clientId, Boolean(disabled));
      await options.audit({ type: 'client.updated', outcome: 'success', clientId, details: { fields, source: 'seed' } });
    }
    changes.push({ kind: 'client', id: clientId, action: fields.length ? 'updated' : 'unchanged', ...(fields.length ? { fields } : {}) });
  }

  for (const person of seed.users) {
    const current = await getUserByEmail(prisma, person.email);
    if (!current) {
      if (write) {
        const created = await createUser(prisma, {
          email: person.email,
          password: person.password,
          ...(person.name !== undefined ? { name: person.name } : {}),
          ...(person.email_verified !== undefined ? { email_verified: person.email_verified } : {}),
        });
        if (person.disabled) await setUserDisabled(prisma, created.id, true);
        await options.audit({ type: 'user.created', outcome: 'success', subject: created.id, details: { source: 'seed' } });
      }
      changes.push({ kind: 'user', id: person.email, action: 'created' });
      continue;
    }
    const fields: string[] = [];
    if (person.name !== undefined && person.name !== current.name) fields.push('name');
    if (person.email_verified !== undefined && person.email_verified !== current.email_verified) fields.push('email_verified');
    if (person.disabled !== undefined && person.disabled !== current.disabled) fields.push('disabled');
    if (fields.length && write) {
      if (fields.includes('name') || fields.includes('email_verified')) {
        await updateUserProfile(prisma, current.id, {
          ...(fields.includes('name') ? { name: person.name ?? null } : {}),
          ...(fields.includes('email_verified') ? { email_verified: Boolean(person.email_verified) } : {}),
        });
      }
      if (fields.includes('disabled')) await setUserDisabled(prisma, current.id, Boolean(person.disabled));
      await options.audit({ type: 'user.updated', outcome: 'success', subject: current.id, details: { fields, source: 'seed' } });
    }
    changes.push({ kind: 'user', id: person.email, action: fields.length ? 'updated' : 'unchanged', ...(fields.length ? { fields } : {}) });
  }

  for (const webhook of seed.webhooks) {
    const { disabled, ...parsed } = webhook;
    // Validated already; the event list is the schema's own output.
    const input = { ...parsed, events: parsed.events as WebhookInput['events'] };
    const current = await findWebhookEndpointByUrl(prisma, input.url);
    if (!current) {
      if (write) {
        const { endpoint, secret } = await createWebhookEndpoint(prisma, options.keyEncryptionKey(), input);
        webhookSecrets[input.url] = secret;
        if (disabled) await setWebhookEndpointDisabled(prisma, endpoint.id, true);
        await options.audit({ type: 'webhook.created', outcome: 'success', details: { endpoint_id: endpoint.id, events: endpoint.events, source: 'seed' } });
      }
      changes.push({ kind: 'webhook', id: input.url, action: 'created' });
      continue;
    }
    // Compared as stored ("*" alone, sorted, no duplicates): the schema normalises the list.
    const wanted = webhookInputSchema.parse(input);
    const fields: string[] = [];
    if (!same(wanted.events, current.events)) fields.push('events');
    if (wanted.description !== undefined && wanted.description !== (current.description ?? '')) fields.push('description');
    if ((wanted.security_event_token ?? false) !== current.security_event_token) fields.push('security_event_token');
    const isDisabled = current.status === 'disabled';
    if (disabled !== undefined && disabled !== isDisabled) fields.push('disabled');
    if (fields.length && write) {
      const patch = {
        ...(fields.includes('events') ? { events: input.events } : {}),
        ...(fields.includes('description') ? { description: input.description } : {}),
        ...(fields.includes('security_event_token') ? { security_event_token: wanted.security_event_token ?? false } : {}),
      };
      if (Object.keys(patch).length) await updateWebhookEndpoint(prisma, current.id, patch);
      if (fields.includes('disabled')) await setWebhookEndpointDisabled(prisma, current.id, Boolean(disabled));
      await options.audit({ type: 'webhook.updated', outcome: 'success', details: { endpoint_id: current.id, fields, source: 'seed' } });
    }
    changes.push({ kind: 'webhook', id: input.url, action: fields.length ? 'updated' : 'unchanged', ...(fields.length ? { fields } : {}) });
  }
  for (const upstream of seed.upstreams) {
    const kek = () => {
      if (!options.keyEncryptionKey) throw new Error('seeding upstreams needs the key-encryption key');
      return options.keyEncryptionKey();
    };
    const current = await getUpstream(prisma, upstream.id);
    if (!current) {
      if (write) {
        await createUpstream(prisma, kek(), upstream);
        await options.audit({ type: 'upstream.created', outcome: 'success', details: { upstream: upstream.id, kind: upstream.kind, source: 'seed' } });
      }
      changes.push({ kind: 'upstream', id: upstream.id, action: 'created' });
      continue;
    }
    const patch = upstreamPatchOf(upstream, current);
    const fields = Object.keys(patch);
    if (fields.length && write) {
      await updateUpstream(prisma, kek(), upstream.id, patch);
      await options.audit({ type: 'upstream.updated', outcome: 'success', details: { upstream: upstream.id, fields, source: 'seed' } });
    }
    changes.push({ kind: 'upstream', id: upstream.id, action: fields.length ? 'updated' : 'unchanged', ...(fields.length ? { fields } : {}) });
  }
  return { changes, secrets, webhookSecrets };
}

/** What differs between a seed entry and the stored upstream; never the secret (a seed does not replace one). */
function upstreamPatchOf(entry: z.output<typeof upstreamInputSchema>, current: UpstreamView): UpstreamPatch {
  const patch: UpstreamPatch = {};
  if (entry.display_name !== current.display_name) patch.display_name = entry.display_name;
  if (entry.client_id !== current.client_id) patch.client_id = entry.client_id;
  if (entry.client_auth_method !== current.client_auth_method) patch.client_auth_method = entry.client_auth_method;
  if (!same(entry.scopes, current.scopes)) patch.scopes = entry.scopes;
  if (!same(entry.claims, current.claims)) patch.claims = entry.claims;
  if (entry.create_users !== current.create_users) patch.create_users = entry.create_users;
  if (entry.trust_email !== current.trust_email) patch.trust_email = entry.trust_email;
  if (entry.disabled !== current.disabled) patch.disabled = entry.disabled;
  if (entry.kind === 'oidc' && entry.issuer !== current.issuer) patch.issuer = entry.issuer;
  if (entry.kind === 'oauth2') {
    if (entry.issuer !== undefined && entry.issuer !== current.issuer) patch.issuer = entry.issuer;
    if (entry.authorization_endpoint !== current.authorization_endpoint) patch.authorization_endpoint = entry.authorization_endpoint;
    if (entry.token_endpoint !== current.token_endpoint) patch.token_endpoint = entry.token_endpoint;
    if (entry.userinfo_endpoint !== current.userinfo_endpoint) patch.userinfo_endpoint = entry.userinfo_endpoint;
  }
  return patch;
}
