// `idp ...`: upstream identity providers people may sign in through (src/upstream/). The client
// secret Gatehouse holds for an upstream is read from standard input (--client-secret-stdin),
// never from arguments, and stored encrypted under the key-encryption key; no command prints it.
import type { Command } from 'commander';
import { createUpstream, deleteUpstream, getUpstream, listUpstreams, updateUpstream, type UpstreamInput, type UpstreamPatch, type UpstreamView } from '../../upstream/registry.js';
import { collect, leaf } from '../command.js';
import { CliError } from '../errors.js';
import { details, table, type Io } from '../output.js';

type IdpFlags = {
  kind?: string;
  name?: string;
  issuer?: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  userinfoEndpoint?: string;
  clientId?: string;
  clientSecretStdin?: boolean;
  clientAuthMethod?: string;
  scope?: string[];
  subjectClaim?: string;
  emailClaim?: string;
  emailVerifiedClaim?: string;
  nameClaim?: string;
  createUsers?: boolean;
  trustEmail?: boolean;
};

function idpDetails(idp: UpstreamView): string {
  return details([
    ['id', idp.id],
    ['name', idp.display_name],
    ['kind', idp.kind],
    ['issuer', idp.issuer],
    ...(idp.kind === 'oauth2'
      ? ([
          ['authorization_endpoint', idp.authorization_endpoint],
          ['token_endpoint', idp.token_endpoint],
          ['userinfo_endpoint', idp.userinfo_endpoint],
        ] as [string, unknown][])
      : []),
    ['client_id', idp.client_id],
    ['client_secret', idp.has_client_secret ? '(stored, encrypted)' : '(none)'],
    ['client_auth_method', idp.client_auth_method],
    ['scopes', idp.scopes],
    ['claims', `subject=${idp.claims.subject} email=${idp.claims.email ?? '-'} email_verified=${idp.claims.email_verified ?? '-'} name=${idp.claims.name ?? '-'}`],
    ['create_users', idp.create_users],
    ['trust_email', idp.trust_email],
    ['status', idp.disabled ? 'disabled' : 'enabled'],
    ['created_at', idp.created_at],
  ]);
}

async function readSecret(io: Io): Promise<string> {
  const text = (await io.readStdin()).replace(/\r?\n$/, '');
  if (!text) throw CliError.usage('--client-secret-stdin: standard input was empty');
  return text;
}

function claimFlags(flags: IdpFlags) {
  const claims = {
    ...(flags.subjectClaim !== undefined ? { subject: flags.subjectClaim } : {}),
    ...(flags.emailClaim !== undefined ? { email: flags.emailClaim === '-' ? null : flags.emailClaim } : {}),
    ...(flags.emailVerifiedClaim !== undefined ? { email_verified: flags.emailVerifiedClaim === '-' ? null : flags.emailVerifiedClaim } : {}),
    ...(flags.nameClaim !== undefined ? { name: flags.nameClaim === '-' ? null : flags.nameClaim } : {}),
  };
  return Object.keys(claims).length ? claims : undefined;
}

function withSettings(command: Command): Command {
  return command
    .option('--name <name>', 'display name ("Continue with <name>" on the login page)')
    .option('--issuer <url>', 'issuer: discovery is read from it (oidc); compared with the `iss` of responses (oauth2, optional)')
    .option('--authorization-endpoint <url>', 'oauth2: the authorization endpoint')
    .option('--token-endpoint <url>', 'oauth2: the token endpoint')
    .option('--userinfo-endpoint <url>', 'oauth2: the user-info endpoint (GET with the access token)')
    .option('--client-id <id>', 'the client_id Gatehouse has at the upstream')
    .option('--client-secret-stdin', 'read the client secret from standard input')
    .option('--client-auth-method <method>', 'client_secret_basic (default), client_secret_post, or private_key_jwt (signed with the Gatehouse signing key; the upstream verifies it with <ISSUER>/jwks)')
    .option('--scope <scope>', 'a scope to ask for, repeatable (oidc default: openid email profile)', collect)
    .option('--subject-claim <name>', 'the claim or field that is the stable id (default sub; never an email)')
    .option('--email-claim <name>', 'the claim or field holding the email (default email; - for none)')
    .option('--email-verified-claim <name>', 'the claim or field that is true when the email is verified (default email_verified; - for none: emails count as unverified)')
    .option('--name-claim <name>', 'the claim or field holding the name (default name; - for none)');
}

export function registerIdpCommands(program: Command, io: Io): void {
  const idp = program.command('idp').description('upstream identity providers people can sign in through (OpenID Connect or plain OAuth 2.0)');

  const create = leaf<IdpFlags>(idp, 'create <id>', 'add an upstream; <id> is its short name (the `idp` parameter)', io);
  withSettings(create.command)
    .option('--kind <kind>', 'oidc (discovery, ID token) or oauth2 (endpoints given, user info by a stable id)', 'oidc')
    .option('--create-users', 'create an account on the first sign-in of an unknown identity (just in time)')
    .option('--trust-email', 'link to an existing account by an email this upstream asserts verified');
  create.command.addHelpText(
    'after',
    '\nExamples:\n  printf %s "$SECRET" | gatehouse idp create corp --name "Corp SSO" --issuer https://login.corp.example --client-id gatehouse --client-secret-stdin --create-users\n' +
      '  printf %s "$SECRET" | gatehouse idp create github --kind oauth2 --name GitHub --authorization-endpoint https://github.com/login/oauth/authorize \\\n' +
      '      --token-endpoint https://github.com/login/oauth/access_token --userinfo-endpoint https://api.github.com/user --client-id Iv1.abc --client-secret-stdin \\\n' +
      '      --scope read:user --subject-claim id --email-verified-claim -',
  );
  create.handle(async (ctx, flags, [id]) => {
    if (!flags.name) throw CliError.usage('idp create: --name is required');
    if (!flags.clientId) throw CliError.usage('idp create: --client-id is required');
    const input = {
      id: id!,
      kind: flags.kind,
      display_name: flags.name,
      ...(flags.issuer !== undefined ? { issuer: flags.issuer } : {}),
      ...(flags.authorizationEndpoint !== undefined ? { authorization_endpoint: flags.authorizationEndpoint } : {}),
      ...(flags.tokenEndpoint !== undefined ? { token_endpoint: flags.tokenEndpoint } : {}),
      ...(flags.userinfoEndpoint !== undefined ? { userinfo_endpoint: flags.userinfoEndpoint } : {}),
      client_id: flags.clientId,
      ...(flags.clientSecretStdin ? { client_secret: await readSecret(io) } : {}),
      ...(flags.clientAuthMethod !== undefined ? { client_auth_method: flags.clientAuthMethod } : {}),
      ...(flags.scope !== undefined ? { scopes: flags.scope } : {}),
      ...(claimFlags(flags) ? { claims: claimFlags(flags) } : {}),
      create_users: Boolean(flags.createUsers),
      trust_email: Boolean(flags.trustEmail),
    } as UpstreamInput;
    const created = await createUpstream(ctx.prisma, ctx.keyEncryptionKey(), input);
    await ctx.audit({ type: 'upstream.created', outcome: 'success', details: { upstream: created.id, kind: created.kind } });
    return { json: created, text: idpDetails(created) };
  });

  leaf(idp, 'list', 'list upstream identity providers', io).handle(async (ctx) => {
    const idps = await listUpstreams(ctx.prisma);
    return {
      json: idps,
      text: idps.length
        ? table(idps, [
            { header: 'ID', value: (i) => i.id },
            { header: 'NAME', value: (i) => i.display_name },
            { header: 'KIND', value: (i) => i.kind },
            { header: 'ISSUER', value: (i) => i.issuer },
            { header: 'STATUS', value: (i) => (i.disabled ? 'disabled' : 'enabled') },
          ])
        : 'no upstream identity providers',
    };
  });

  leaf(idp, 'show <id>', 'show one upstream (never its secret)', io).handle(async (ctx, _flags, [id]) => {
    const found = await getUpstream(ctx.prisma, id!);
    if (!found) throw CliError.failure(`no upstream with id ${id}`);
    return { json: found, text: idpDetails(found) };
  });

  const update = leaf<IdpFlags & { createUsers?: boolean; trustEmail?: boolean }>(idp, 'update <id>', 'change an upstream (its id and kind stay)', io);
  withSettings(update.command)
    .option('--create-users', 'create accounts just in time')
    .option('--no-create-users', 'sign in existing accounts only')
    .option('--trust-email', 'link by an email this upstream asserts verified')
    .option('--no-trust-email', 'never link by email without the person proving the account');
  update.handle(async (ctx, flags, [id]) => {
    const patch: UpstreamPatch = {
      ...(flags.name !== undefined ? { display_name: flags.name } : {}),
      ...(flags.issuer !== undefined ? { issuer: flags.issuer } : {}),
      ...(flags.authorizationEndpoint !== undefined ? { authorization_endpoint: flags.authorizationEndpoint } : {}),
      ...(flags.tokenEndpoint !== undefined ? { token_endpoint: flags.tokenEndpoint } : {}),
      ...(flags.userinfoEndpoint !== undefined ? { userinfo_endpoint: flags.userinfoEndpoint } : {}),
      ...(flags.clientId !== undefined ? { client_id: flags.clientId } : {}),
      ...(flags.clientSecretStdin ? { client_secret: await readSecret(io) } : {}),
      ...(flags.clientAuthMethod !== undefined ? { client_auth_method: flags.clientAuthMethod as UpstreamPatch['client_auth_method'] } : {}),
      ...(flags.scope !== undefined ? { scopes: flags.scope } : {}),
      ...(claimFlags(flags) ? { claims: claimFlags(flags) } : {}),
      ...(flags.createUsers !== undefined ? { create_users: flags.createUsers } : {}),
      ...(flags.trustEmail !== undefined ? { trust_email: flags.trustEmail } : {}),
    };
    if (Object.keys(patch).length === 0) throw CliError.usage('idp update: nothing to change');
    const updated = await updateUpstream(ctx.prisma, ctx.keyEncryptionKey(), id!, patch);
    // Which fields changed, never their values (a secret among them).
    await ctx.audit({ type: 'upstream.updated', outcome: 'success', details: { upstream: updated.id, fields: Object.keys(patch) } });
    return { json: updated, text: idpDetails(updated) };
  });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    leaf(idp, `${verb} <id>`, disabled ? 'stop offering an upstream (its linked identities stay)' : 'offer a disabled upstream again', io).handle(async (ctx, _flags, [id]) => {
      const updated = await updateUpstream(ctx.prisma, ctx.keyEncryptionKey(), id!, { disabled });
      await ctx.audit({ type: 'upstream.updated', outcome: 'success', details: { upstream: updated.id, disabled } });
      return { json: updated, text: `upstream ${updated.id} ${disabled ? 'disabled' : 'enabled'}` };
    });
  }

  leaf(idp, 'delete <id>', 'delete an upstream and the identities linked through it (the accounts stay)', io).handle(async (ctx, _flags, [id]) => {
    const { identities } = await deleteUpstream(ctx.prisma, id!);
    await ctx.audit({ type: 'upstream.deleted', outcome: 'success', details: { upstream: id!, identities } });
    return { json: { id, deleted: true, identities_removed: identities }, text: `upstream ${id} deleted (${identities} linked identit${identities === 1 ? 'y' : 'ies'} removed)` };
  });
}
