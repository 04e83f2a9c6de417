// `client ...`: register, inspect, change, rotate and remove OAuth clients.
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { getApi } from '../../clients/apis.js';
import { CONFIDENTIAL_AUTH_METHODS, GRANT_TYPES, INTROSPECTION_SIGNING_ALGS, PROFILES, type ClientInput, type ClientJwks } from '../../clients/metadata.js';
import {
  createClient,
  deleteClient,
  getClient,
  listClients,
  rotateClientSecret,
  setClientDisabled,
  updateClient,
  type ClientUpdate,
  type ClientView,
} from '../../clients/registry.js';
import type { Db } from '../../db/client.js';
import { collect, durationArgument, leaf, type CommandResult } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { details, table, type Io } from '../output.js';

type ClientFlags = {
  name?: string;
  type?: ClientInput['profile'];
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  corsOrigin?: string[];
  api?: string[];
  scope?: string[];
  grantType?: string[];
  authMethod?: ClientInput['token_endpoint_auth_method'];
  jwksFile?: string;
  firstParty?: boolean;
  requireMfa?: boolean;
  defaultApi?: string | false;
  introspectionSignedResponseAlg?: ClientInput['introspection_signed_response_alg'] | false;
  backchannelLogoutUri?: string | false;
  backchannelLogoutSessionRequired?: boolean;
};

const LIST_FIELDS = ['redirect_uris', 'post_logout_redirect_uris', 'cors_origins', 'apis'] as const;
type ListField = (typeof LIST_FIELDS)[number];

/** The options create and update share. */
function metadataOptions(command: Command, forUpdate: boolean): Command {
  const replaces = forUpdate ? ' (replaces the stored list)' : '';
  return command
    .option('--name <name>', 'display name shown on the consent page')
    .addOption(new Option('--type <profile>', 'client profile').choices([...PROFILES]))
    .option('--redirect-uri <uri>', `allowed redirect URI, repeatable${replaces}`, collect)
    .option('--post-logout-redirect-uri <uri>', `allowed post-logout redirect URI, repeatable${replaces}`, collect)
    .option('--cors-origin <origin>', `browser origin allowed to call the token endpoints (web, spa), repeatable${replaces}`, collect)
    .option('--api <identifier[=scope,scope]>', `API the client may get tokens for, with the scopes it may ask (all when omitted), repeatable${replaces}`, collect)
    .option('--scope <scope>', `OpenID Connect scope the client may ask for, repeatable${replaces}`, collect)
    .addOption(new Option('--grant-type <grant>', `grant type, repeatable (default: the profile's)${replaces}`).choices([...GRANT_TYPES]).argParser(collect))
    .addOption(new Option('--auth-method <method>', 'token endpoint authentication method (default: the profile\'s)').choices([...CONFIDENTIAL_AUTH_METHODS]))
    .option('--jwks-file <file>', 'JSON Web Key Set file with the public keys for private_key_jwt')
    .option('--first-party', 'a first-party app: consent is not asked for OpenID Connect scopes')
    .option('--require-mfa', 'every sign-in to this client needs a second factor (people without one set one up)')
    .option('--default-api <identifier>', 'API that tokens are for when a request names no resource (create: the only --api when there is one)')
    .addOption(
      new Option('--introspection-signed-response-alg <alg>', 'sign introspection responses as a JWT (RFC 9701) when the caller asks for one').choices([...INTROSPECTION_SIGNING_ALGS]),
    )
    .option('--backchannel-logout-uri <uri>', 'where logout tokens are POSTed when the person signs out or loses access (OpenID Connect Back-Channel Logout)')
    .option('--backchannel-logout-session-required', 'the client needs the session id (sid) in each logout token');
}

function readJwksFile(file: string): ClientJwks {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw CliError.usage(`--jwks-file: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
  try {
    return JSON.parse(text) as ClientJwks;
  } catch {
    throw CliError.usage(`--jwks-file: ${file} is not valid JSON`);
  }
}

/** `--api urn:x:api=read,write` -> { identifier, scopes }; without `=`, every scope the API has. */
async function parseApiGrants(prisma: Db, values: string[]): Promise<{ identifier: string; scopes: string[] }[]> {
  return Promise.all(
    values.map(async (value) => {
      const at = value.indexOf('=');
      const identifier = at === -1 ? value : value.slice(0, at);
      if (at !== -1) return { identifier, scopes: value.slice(at + 1).split(',').filter(Boolean) };
      const api = await getApi(prisma, identifier);
      if (!api) throw CliError.usage(`--api: no API is registered with identifier "${identifier}" (see \`api list\`)`);
      return { identifier, scopes: api.scopes };
    }),
  );
}

async function metadataFromFlags(prisma: Db, flags: ClientFlags): Promise<ClientUpdate> {
  const patch: ClientUpdate = {};
  if (flags.name !== undefined) patch.name = flags.name;
  if (flags.type !== undefined) patch.profile = flags.type;
  if (flags.redirectUri) patch.redirect_uris = flags.redirectUri;
  if (flags.postLogoutRedirectUri) patch.post_logout_redirect_uris = flags.postLogoutRedirectUri;
  if (flags.corsOrigin) patch.cors_origins = flags.corsOrigin;
  if (flags.api) patch.apis = await parseApiGrants(prisma, flags.api);
  if (flags.scope) patch.scope = flags.scope as ClientUpdate['scope'];
  if (flags.grantType) patch.grant_types = flags.grantType as ClientUpdate['grant_types'];
  if (flags.authMethod) patch.token_endpoint_auth_method = flags.authMethod;
  if (flags.jwksFile) patch.jwks = readJwksFile(flags.jwksFile);
  if (flags.firstParty !== undefined) patch.first_party = flags.firstParty;
  if (flags.requireMfa !== undefined) patch.require_mfa = flags.requireMfa;
  if (flags.defaultApi !== undefined) patch.default_api = flags.defaultApi === false ? null : flags.defaultApi;
  if (flags.introspectionSignedResponseAlg !== undefined) {
    patch.introspection_signed_response_alg = flags.introspectionSignedResponseAlg === false ? null : flags.introspectionSignedResponseAlg;
  }
  if (flags.backchannelLogoutUri !== undefined) patch.backchannel_logout_uri = flags.backchannelLogoutUri === false ? null : flags.backchannelLogoutUri;
  if (flags.backchannelLogoutSessionRequired !== undefined) patch.backchannel_logout_session_required = flags.backchannelLogoutSessionRequired;
  return patch;
}

function requireClient(client: ClientView | null, clientId: string): ClientView {
  if (!client) throw CliError.failure(`no client with client_id ${clientId}`);
  return client;
}

function clientDetails(client: ClientView): string {
  return details([
    ['client_id', client.client_id],
    ['name', client.client_name],
    ['profile', client.profile],
    ['type', client.type],
    ['status', client.disabled ? 'disabled' : 'enabled'],
    ['grant_types', client.grant_types],
    ['auth_method', client.token_endpoint_auth_method],
    ['redirect_uris', client.redirect_uris],
    ['post_logout_uris', client.post_logout_redirect_uris],
    ['cors_origins', client.cors_origins],
    ['scope', client.scope],
    ['apis', client.apis.map((a) => `${a.identifier} (${a.scopes.join(' ') || 'no scopes'})`)],
    ['default_api', client.default_api],
    ['introspection_alg', client.introspection_signed_response_alg],
    ['first_party', client.first_party],
    ['backchannel_logout_uri', client.backchannel_logout_uri],
    ['backchannel_logout_session_required', client.backchannel_logout_session_required],
    ['require_mfa', client.require_mfa],
    ['secrets', client.client_secrets.map((s) => `created ${s.created_at}${s.expires_at ? `, expires ${s.expires_at}` : ''}`)],
    ['created_at', client.created_at],
  ]);
}

/** A client and, when one was generated, its secret: shown this once and never again. */
function withSecret(client: ClientView, clientSecret: string | undefined, verb: string): CommandResult {
  if (!clientSecret) return { json: client, text: clientDetails(client) };
  const { client_id: clientId, ...rest } = client;
  return {
    json: { client_id: clientId, client_secret: clientSecret, ...rest },
    text: `${clientDetails(client)}\nclient_secret:    ${clientSecret}`,
    notice: `The client secret was ${verb} and is shown only now: store it in a secret manager.`,
  };
}

const RESOURCE_SERVER_OPTIONS: [keyof ClientFlags, string][] = [
  ['redirectUri', '--redirect-uri'],
  ['postLogoutRedirectUri', '--post-logout-redirect-uri'],
  ['corsOrigin', '--cors-origin'],
  ['scope', '--scope'],
  ['grantType', '--grant-type'],
  ['defaultApi', '--default-api'],
];

/**
 * `--type resource-server --api URN` (create, or update to that profile): a client that stands for
 * one API and gets no tokens. The patch names that API as default_api and no API grants.
 */
async function resourceServerPatch(ctx: CliContext, flags: ClientFlags, verb: 'create' | 'update'): Promise<ClientUpdate> {
  for (const [flag, option] of RESOURCE_SERVER_OPTIONS) {
    if (flags[flag] !== undefined) throw CliError.usage(`client ${verb}: ${option} does not apply to --type resource-server (it gets no tokens)`);
  }
  const apis = flags.api ?? [];
  if (apis.length !== 1) throw CliError.usage(`client ${verb}: --type resource-server needs exactly one --api, the API it stands for`);
  const identifier = apis[0]!;
  if (identifier.includes('=')) throw CliError.usage(`client ${verb}: --api for a resource server names the API only, without scopes`);
  if (!(await getApi(ctx.prisma, identifier))) throw CliError.usage(`--api: no API is registered with identifier "${identifier}" (see \`api list\`)`);
  return { ...(await metadataFromFlags(ctx.prisma, { ...flags, api: undefined })), apis: [], default_api: identifier };
}

async function createResourceServer(ctx: CliContext, flags: ClientFlags): Promise<CommandResult> {
  const input = (await resourceServerPatch(ctx, flags, 'create')) as ClientInput;
  const created = await createClient(ctx.prisma, input);
  await ctx.audit({ type: 'client.created', outcome: 'success', clientId: created.client.client_id, details: { profile: created.client.profile } });
  return withSecret(created.client, created.clientSecret, 'generated');
}

export function registerClientCommands(program: Command, io: Io): void {
  const client = program.command('client').description('register and manage OAuth clients');

  const create = leaf<ClientFlags>(client, 'create', 'register a client; prints its client_id and, for confidential clients, its secret (once)', io);
  metadataOptions(create.command, false);
  create.command.addHelpText(
    'after',
    `
Defaults per --type:
  web      confidential, authorization_code + refresh_token, client_secret_basic
  spa      public, authorization_code + refresh_token (PKCE)
  native   public, authorization_code + refresh_token (PKCE)
  service  confidential, client_credentials, client_secret_basic
  device   public, device_code + refresh_token
  resource-server  confidential, no grants: an API's credentials for the introspection
           endpoint; --api names the one API it stands for (it may introspect tokens for it)

Examples:
  gatehouse client create --name "Billing worker" --type service --api urn:acme:billing=read
  gatehouse client create --name "Billing API" --type resource-server --api urn:acme:billing`,
  );
  create.handle(async (ctx, flags) => {
    if (!flags.name) throw CliError.usage('client create: --name is required');
    if (!flags.type) throw CliError.usage(`client create: --type is required (${PROFILES.join(', ')})`);
    if (flags.type === 'resource-server') return createResourceServer(ctx, flags);
    const input = (await metadataFromFlags(ctx.prisma, flags)) as ClientInput;
    // One API and no --default-api: tokens requested without `resource` are for that API.
    if (input.apis?.length === 1 && flags.defaultApi === undefined) input.default_api = input.apis[0]!.identifier;
    const created = await createClient(ctx.prisma, input);
    await ctx.audit({ type: 'client.created', outcome: 'success', clientId: created.client.client_id, details: { profile: created.client.profile } });
    return withSecret(created.client, created.clientSecret, 'generated');
  });

  leaf(client, 'list', 'list registered clients', io).handle(async (ctx) => {
    const clients = await listClients(ctx.prisma);
    return {
      json: clients,
      text: clients.length
        ? table(clients, [
            { header: 'CLIENT_ID', value: (c) => c.client_id },
            { header: 'NAME', value: (c) => c.client_name },
            { header: 'PROFILE', value: (c) => c.profile },
            { header: 'AUTH', value: (c) => c.token_endpoint_auth_method },
            { header: 'STATUS', value: (c) => (c.disabled ? 'disabled' : 'enabled') },
            { header: 'CREATED', value: (c) => c.created_at },
          ])
        : 'no clients registered',
    };
  });

  leaf(client, 'show <client_id>', 'show one client (never its secret)', io).handle(async (ctx, _flags, [clientId]) => {
    const found = requireClient(await getClient(ctx.prisma, clientId!), clientId!);
    return { json: found, text: clientDetails(found) };
  });

  const update = leaf<ClientFlags & { clear?: string[] }>(client, 'update <client_id>', 'change a client\'s metadata; only the options given change', io);
  metadataOptions(update.command, true)
    .option('--no-first-party', 'ask consent for OpenID Connect scopes again')
    .option('--no-require-mfa', 'stop requiring a second factor for this client (the MFA setting still applies)')
    .option('--no-default-api', 'remove the default API')
    .option('--no-introspection-signed-response-alg', 'answer introspection in plain JSON again')
    .option('--no-backchannel-logout-uri', 'stop sending logout tokens to this client')
    .option('--no-backchannel-logout-session-required', 'logout tokens need not carry sid')
    .addOption(new Option('--clear <field>', 'empty a list, repeatable').choices([...LIST_FIELDS]).argParser(collect));
  update.handle(async (ctx, flags, [clientId]) => {
    const current = requireClient(await getClient(ctx.prisma, clientId!), clientId!);
    const becomesResourceServer = flags.type === 'resource-server' || (flags.type === undefined && current.profile === 'resource-server' && flags.api !== undefined);
    const patch = becomesResourceServer ? await resourceServerPatch(ctx, flags, 'update') : await metadataFromFlags(ctx.prisma, flags);
    // Leaving resource-server: its API was what it stood for, not a default for tokens; as at
    // create, a single --api becomes the default.
    if (current.profile === 'resource-server' && flags.type !== undefined && !becomesResourceServer && flags.defaultApi === undefined) {
      patch.default_api = patch.apis?.length === 1 ? patch.apis[0]!.identifier : null;
    }
    for (const field of (flags.clear ?? []) as ListField[]) {
      if (patch[field]) throw CliError.usage(`client update: --clear ${field} contradicts a value given for it`);
      patch[field] = [];
    }
    if (Object.keys(patch).length === 0) throw CliError.usage('client update: nothing to change (see --help for the options)');
    const updated = await updateClient(ctx.prisma, clientId!, patch);
    await ctx.audit({ type: 'client.updated', outcome: 'success', clientId: clientId!, details: { fields: Object.keys(patch) } });
    return withSecret(updated.client, updated.clientSecret, 'generated because the new authentication method needs one');
  });

  const rotate = leaf<{ overlap?: number }>(client, 'rotate-secret <client_id>', 'issue a new client secret (shown once); the old one keeps working for --overlap', io);
  rotate.command.option('--overlap <duration>', 'how long the previous secret stays valid (0 = stops now; at most 30d)', durationArgument, 0);
  rotate.handle(async (ctx, flags, [clientId]) => {
    const overlapSeconds = flags.overlap ?? 0;
    const { clientSecret, previousExpiresAt } = await rotateClientSecret(ctx.prisma, clientId!, { overlapSeconds });
    await ctx.audit({ type: 'client.secret_rotated', outcome: 'success', clientId: clientId!, details: { overlapSeconds } });
    const previous = previousExpiresAt ? previousExpiresAt.toISOString() : null;
    return {
      json: { client_id: clientId, client_secret: clientSecret, previous_secret_expires_at: previous },
      text: details([
        ['client_id', clientId],
        ['client_secret', clientSecret],
        ['previous secret', previous ? (overlapSeconds === 0 ? 'stopped working now' : `works until ${previous}`) : 'none'],
      ]),
      notice: 'The new client secret is shown only now: store it in a secret manager.',
    };
  });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    leaf(client, `${verb} <client_id>`, disabled ? 'refuse every request from this client until enabled again' : 'let a disabled client in again', io).handle(
      async (ctx, _flags, [clientId]) => {
        const changed = await setClientDisabled(ctx.prisma, clientId!, disabled);
        await ctx.audit({ type: 'client.updated', outcome: 'success', clientId: clientId!, details: { disabled } });
        return { json: changed, text: `client ${clientId} ${disabled ? 'disabled' : 'enabled'}` };
      },
    );
  }

  leaf(client, 'delete <client_id>', 'delete a client and revoke everything issued to it (grants, codes, refresh tokens)', io).handle(
    async (ctx, _flags, [clientId]) => {
      await deleteClient(ctx.prisma, clientId!);
      await ctx.audit({ type: 'client.deleted', outcome: 'success', clientId: clientId! });
      return { json: { client_id: clientId, deleted: true }, text: `client ${clientId} deleted; its grants and tokens are revoked` };
    },
  );
}
