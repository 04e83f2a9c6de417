// `user ...`: people who sign in. Passwords are read from standard input or a hidden prompt,
// never from arguments (which other users can see in the process list and shell history).
import type { Command } from 'commander';
import {
  createUser,
  getUserByEmail,
  getUserById,
  listUsers,
  setPassword,
  setUserDisabled,
  unlockUser,
  type UserView,
} from '../../accounts/users.js';
import type { Db } from '../../db/client.js';
import { listFactors, removeAllFactors } from '../../mfa/factors.js';
import { listUserGrants, revokeUserGrants } from '../../oidc/user-grants.js';
import { queueBackchannelLogout } from '../../backchannel-logout/queue.js';
import { sendVerificationEmail } from '../../email-verification/send.js';
import { createMailer } from '../../mail/mailer.js';
import { createLogger } from '../../logger.js';
import { listIdentities, unlinkIdentities, type IdentityView } from '../../upstream/identities.js';
import { leaf } from '../command.js';
import { CliError } from '../errors.js';
import { details, table, type Io } from '../output.js';

type PasswordFlags = { passwordStdin?: boolean };

/** --password-stdin reads all of standard input (one trailing newline dropped); else a prompt. */
async function readPassword(io: Io, flags: PasswordFlags): Promise<string> {
  if (flags.passwordStdin) {
    const text = (await io.readStdin()).replace(/\r?\n$/, '');
    if (!text) throw CliError.usage('--password-stdin: standard input was empty');
    return text;
  }
  if (!io.promptHidden) throw CliError.usage('no terminal to ask for the password on: pass it on standard input with --password-stdin');
  const first = await io.promptHidden('Password:');
  const again = await io.promptHidden('Repeat the password:');
  if (first !== again) throw CliError.usage('the two passwords differ');
  return first;
}

/** A person by email, or by user id (the `sub`) when the reference has no @. */
async function requireUser(prisma: Db, reference: string): Promise<UserView> {
  const user = reference.includes('@') ? await getUserByEmail(prisma, reference) : await getUserById(prisma, reference);
  if (!user) throw CliError.failure(`no user with ${reference.includes('@') ? 'email' : 'id'} ${reference}`);
  return user;
}

function userDetails(user: UserView, identities?: IdentityView[]): string {
  return details([
    ['id', user.id],
    ['email', user.email],
    ['email_verified', user.email_verified],
    ['name', user.name],
    ['password', user.has_password ? 'set' : 'none (signs in through an upstream)'],
    ...(identities ? ([['identities', identities.length ? identities.map((i) => `${i.upstream_id}:${i.subject}`) : '-']] as [string, unknown][]) : []),
    ['status', user.disabled ? 'disabled' : user.locked_until ? `locked until ${user.locked_until}` : 'active'],
    ['failed_logins', user.failed_login_count],
    ['last_login_at', user.last_login_at],
    ['created_at', user.created_at],
  ]);
}

function withPasswordSource(command: Command): Command {
  return command.option('--password-stdin', 'read the password from standard input instead of prompting');
}

export function registerUserCommands(program: Command, io: Io): void {
  const user = program.command('user').description('manage the people who sign in');

  const create = leaf<PasswordFlags & { email?: string; name?: string; emailVerified?: boolean; sendVerification?: boolean }>(
    user,
    'create',
    'create a person; the password comes from a hidden prompt or --password-stdin',
    io,
  );
  withPasswordSource(create.command)
    .option('--email <email>', 'email address (their sign-in name)')
    .option('--name <name>', 'full name (the `name` claim)')
    .option('--email-verified', 'mark the email address as verified (the `email_verified` claim)')
    .option('--send-verification', 'email the person a link that verifies their address (SMTP_URL, or an .eml file under DATA_DIR)');
  create.command.addHelpText('after', '\nExample:\n  printf %s "$PASSWORD" | gatehouse user create --email ada@example.com --name "Ada Lovelace" --password-stdin');
  create.handle(async (ctx, flags) => {
    if (!flags.email) throw CliError.usage('user create: --email is required');
    if (flags.sendVerification && flags.emailVerified) throw CliError.usage('user create: --send-verification and --email-verified exclude each other');
    if (flags.sendVerification && !ctx.config.mailAvailable) throw CliError.usage('user create: --send-verification needs SMTP_URL in production');
    const password = await readPassword(io, flags);
    const created = await createUser(ctx.prisma, {
      email: flags.email,
      password,
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      ...(flags.emailVerified ? { email_verified: true } : {}),
    });
    await ctx.audit({ type: 'user.created', outcome: 'success', subject: created.id });
    if (flags.sendVerification) {
      // Delivery is waited for here (with its retries): the operator is told whether it left.
      const logger = createLogger('info', process.stderr);
      const mailer = createMailer(ctx.config, logger, ctx.audit);
      const row = await ctx.prisma.user.findUniqueOrThrow({ where: { id: created.id }, select: { passwordHash: true } });
      const { delivered } = await sendVerificationEmail({ config: ctx.config, prisma: ctx.prisma, mailer, audit: ctx.audit }, { id: created.id, email: created.email, passwordHash: row.passwordHash });
      const ok = await delivered;
      mailer.close();
      if (!ok) throw CliError.failure(`created ${created.email}, but the verification email could not be sent (see the log above)`);
    }
    return { json: created, text: userDetails(created) };
  });

  leaf(user, 'list', 'list people', io).handle(async (ctx) => {
    const users = await listUsers(ctx.prisma);
    return {
      json: users,
      text: users.length
        ? table(users, [
            { header: 'ID', value: (u) => u.id },
            { header: 'EMAIL', value: (u) => u.email },
            { header: 'NAME', value: (u) => u.name ?? '-' },
            { header: 'STATUS', value: (u) => (u.disabled ? 'disabled' : u.locked_until ? 'locked' : 'active') },
            { header: 'LAST_LOGIN', value: (u) => u.last_login_at ?? '-' },
          ])
        : 'no users',
    };
  });

  leaf(user, 'show <email|id>', 'show one person, with their second factors (never a secret)', io).handle(async (ctx, _flags, [reference]) => {
    const found = await requireUser(ctx.prisma, reference!);
    // Linked upstream identities (src/upstream/): (upstream, subject) pairs.
    const identities = await listIdentities(ctx.prisma, found.id);
    const factors = await listFactors(ctx.prisma, found.id);
    const factorLines = factors.length
      ? table(factors, [
          { header: 'FACTOR', value: (f) => f.kind },
          { header: 'NAME', value: (f) => f.name },
          { header: 'CREATED', value: (f) => f.created_at },
          { header: 'LAST_USED', value: (f) => f.last_used_at ?? '-' },
          { header: 'DETAIL', value: (f) => f.detail ?? '-' },
        ])
      : 'no second factors';
    return { json: { ...found, identities, factors }, text: `${userDetails(found, identities)}\n\n${factorLines}` };
  });

  const unlink = leaf<{ subject?: string }>(user, 'unlink <email|id> <upstream>', 'remove a person\'s linked identity at an upstream (they can no longer sign in through it until linked again)', io);
  unlink.command.option('--subject <subject>', 'only this identity (when the person has several at that upstream)');
  unlink.handle(async (ctx, flags, [reference, upstreamId]) => {
    const found = await requireUser(ctx.prisma, reference!);
    const removed = await unlinkIdentities(ctx.prisma, found.id, upstreamId!, flags.subject);
    if (removed.length === 0) throw CliError.failure(`${found.email} has no identity linked at upstream ${upstreamId}`);
    if (!found.has_password && (await listIdentities(ctx.prisma, found.id)).length === 0) {
      // Not refused (an operator may mean it), but said: nothing is left to sign in with.
      io.stderr(`note: ${found.email} has no password and no linked identity left; set a password or link an identity for them to sign in\n`);
    }
    await ctx.audit({ type: 'identity.unlinked', outcome: 'success', subject: found.id, details: { upstream: upstreamId!, identities: removed.length } });
    return { json: { user_id: found.id, upstream_id: upstreamId, unlinked: removed }, text: `unlinked ${removed.length} identit${removed.length === 1 ? 'y' : 'ies'} of ${found.email} at ${upstreamId}` };
  });

  const mfa = user.command('mfa').description("a person's second factors");
  leaf(mfa, 'reset <email|id>', 'remove every second factor and recovery code of a person (they lost them)', io).handle(async (ctx, _flags, [reference]) => {
    const found = await requireUser(ctx.prisma, reference!);
    const removed = await removeAllFactors(ctx.prisma, found.id);
    await ctx.audit({ type: 'mfa.reset', outcome: 'success', subject: found.id, details: { removed } });
    return { json: { user_id: found.id, removed }, text: `removed ${removed} second-factor record${removed === 1 ? '' : 's'} of ${found.email}` };
  });

  const setPasswordCommand = leaf<PasswordFlags>(user, 'set-password <email|id>', 'set a new password (also ends a lockout)', io);
  withPasswordSource(setPasswordCommand.command);
  setPasswordCommand.handle(async (ctx, flags, [reference]) => {
    const found = await requireUser(ctx.prisma, reference!);
    const updated = await setPassword(ctx.prisma, found.id, await readPassword(io, flags));
    await ctx.audit({ type: 'user.updated', outcome: 'success', subject: found.id, details: { change: 'password' } });
    return { json: updated, text: `password of ${updated.email} changed` };
  });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    leaf(user, `${verb} <email|id>`, disabled ? 'stop a person from signing in (their tokens stop reaching userinfo and refresh)' : 'let a disabled person sign in again', io).handle(
      async (ctx, _flags, [reference]) => {
        const found = await requireUser(ctx.prisma, reference!);
        const updated = await setUserDisabled(ctx.prisma, found.id, disabled);
        // Relying parties with their own sessions hear of it (Back-Channel Logout 1.0).
        const logoutTokens = disabled ? await queueBackchannelLogout(ctx.prisma, { accountId: found.id }) : 0;
        await ctx.audit({ type: 'user.updated', outcome: 'success', subject: found.id, details: { disabled, ...(disabled ? { logout_tokens: logoutTokens } : {}) } });
        return { json: updated, text: `user ${updated.email} ${disabled ? 'disabled' : 'enabled'}` };
      },
    );
  }

  leaf(user, 'unlock <email|id>', 'end a lockout after failed sign-ins', io).handle(async (ctx, _flags, [reference]) => {
    const found = await requireUser(ctx.prisma, reference!);
    const updated = await unlockUser(ctx.prisma, found.id);
    await ctx.audit({ type: 'user.unlocked', outcome: 'success', subject: found.id });
    return { json: updated, text: `user ${updated.email} unlocked` };
  });

  leaf(user, 'sessions <email|id>', 'list the grants a person holds: client, created, last used', io).handle(async (ctx, _flags, [reference]) => {
    const found = await requireUser(ctx.prisma, reference!);
    const grants = await listUserGrants(ctx.prisma, found.id);
    const rows = grants.map((g) => ({
      grant_id: g.grantId,
      client_id: g.clientId,
      created_at: g.createdAt.toISOString(),
      last_used_at: g.lastUsedAt.toISOString(),
      expires_at: g.expiresAt?.toISOString() ?? null,
    }));
    return {
      json: rows,
      text: rows.length
        ? table(rows, [
            { header: 'CLIENT_ID', value: (g) => g.client_id },
            { header: 'CREATED', value: (g) => g.created_at },
            { header: 'LAST_USED', value: (g) => g.last_used_at },
            { header: 'EXPIRES', value: (g) => g.expires_at ?? '-' },
          ])
        : `${found.email} holds no grants`,
    };
  });

  const revoke = leaf<{ client?: string }>(user, 'revoke <email|id>', 'revoke a person\'s grants and every token they issued (all clients, or one)', io);
  revoke.command.option('--client <client_id>', 'only the grant of this client');
  revoke.handle(async (ctx, flags, [reference]) => {
    const found = await requireUser(ctx.prisma, reference!);
    // Queued before the grants go: they say which clients to tell (Back-Channel Logout 1.0).
    await queueBackchannelLogout(ctx.prisma, { accountId: found.id, ...(flags.client !== undefined ? { clientId: flags.client } : {}) });
    const revoked = await revokeUserGrants(ctx.prisma, found.id, flags.client);
    await ctx.audit({ type: 'grant.revoked', outcome: 'success', subject: found.id, clientId: flags.client ?? null, details: { grants: revoked } });
    return {
      json: { user_id: found.id, client_id: flags.client ?? null, revoked_grants: revoked },
      text: `revoked ${revoked} grant${revoked === 1 ? '' : 's'} of ${found.email}${flags.client ? ` at client ${flags.client}` : ''}`,
    };
  });
}
