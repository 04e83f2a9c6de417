// `api ...`: resource servers (RFC 8707) that clients obtain access tokens for.
import type { Command } from 'commander';
import { createApi, deleteApi, getApi, listApis, updateApi, type ApiPatch, type ApiView } from '../../clients/apis.js';
import { formatDurationSeconds } from '../../util/duration.js';
import { collect, durationArgument, leaf } from '../command.js';
import { CliError } from '../errors.js';
import { details, table, type Io } from '../output.js';

type ApiFlags = { identifier?: string; name?: string; scope?: string[]; tokenTtl?: number };

function apiDetails(api: ApiView): string {
  return details([
    ['identifier', api.identifier],
    ['name', api.name],
    ['scopes', api.scopes],
    ['token_ttl', formatDurationSeconds(api.access_token_ttl)],
    ['created_at', api.created_at],
    ['updated_at', api.updated_at],
  ]);
}

export function registerApiCommands(program: Command, io: Io): void {
  const api = program.command('api').description('register and manage APIs (resource servers) that clients get tokens for');

  const create = leaf<ApiFlags>(api, 'create', 'register an API; its identifier is the audience of its tokens', io);
  create.command
    .option('--identifier <uri>', 'the API\'s identifier: an https URI or a URN (the token audience and the `resource` clients send)')
    .option('--name <name>', 'display name')
    .option('--scope <scope>', 'a scope the API defines, repeatable', collect)
    .option('--token-ttl <duration>', 'access token lifetime for this API (default 15m, 1m to 24h)', durationArgument);
  create.handle(async (ctx, flags) => {
    if (!flags.identifier) throw CliError.usage('api create: --identifier is required');
    if (!flags.name) throw CliError.usage('api create: --name is required');
    const created = await createApi(ctx.prisma, {
      identifier: flags.identifier,
      name: flags.name,
      scopes: flags.scope ?? [],
      ...(flags.tokenTtl !== undefined ? { access_token_ttl: flags.tokenTtl } : {}),
    });
    await ctx.audit({ type: 'api.created', outcome: 'success', details: { identifier: created.identifier } });
    return { json: created, text: apiDetails(created) };
  });

  leaf(api, 'list', 'list registered APIs', io).handle(async (ctx) => {
    const apis = await listApis(ctx.prisma);
    return {
      json: apis,
      text: apis.length
        ? table(apis, [
            { header: 'IDENTIFIER', value: (a) => a.identifier },
            { header: 'NAME', value: (a) => a.name },
            { header: 'TOKEN_TTL', value: (a) => formatDurationSeconds(a.access_token_ttl) },
            { header: 'SCOPES', value: (a) => a.scopes.join(' ') || '-' },
          ])
        : 'no APIs registered',
    };
  });

  leaf(api, 'show <identifier>', 'show one API', io).handle(async (ctx, _flags, [identifier]) => {
    const found = await getApi(ctx.prisma, identifier!);
    if (!found) throw CliError.failure(`no API with identifier ${identifier}`);
    return { json: found, text: apiDetails(found) };
  });

  const update = leaf<ApiFlags>(api, 'update <identifier>', 'change an API\'s name, scopes or token lifetime (the identifier never changes)', io);
  update.command
    .option('--name <name>', 'display name')
    .option('--scope <scope>', 'a scope, repeatable; replaces the list (clients lose removed scopes)', collect)
    .option('--token-ttl <duration>', 'access token lifetime (1m to 24h)', durationArgument);
  update.handle(async (ctx, flags, [identifier]) => {
    const patch: ApiPatch = {
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      ...(flags.scope !== undefined ? { scopes: flags.scope } : {}),
      ...(flags.tokenTtl !== undefined ? { access_token_ttl: flags.tokenTtl } : {}),
    };
    if (Object.keys(patch).length === 0) throw CliError.usage('api update: nothing to change (give --name, --scope or --token-ttl)');
    const updated = await updateApi(ctx.prisma, identifier!, patch);
    await ctx.audit({ type: 'api.updated', outcome: 'success', details: { identifier: identifier!, fields: Object.keys(patch) } });
    return { json: updated, text: apiDetails(updated) };
  });

  leaf(api, 'delete <identifier>', 'delete an API; clients lose their permission for it', io).handle(async (ctx, _flags, [identifier]) => {
    await deleteApi(ctx.prisma, identifier!);
    await ctx.audit({ type: 'api.deleted', outcome: 'success', details: { identifier: identifier! } });
    return { json: { identifier, deleted: true }, text: `API ${identifier} deleted` };
  });
}
