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

function userDetails(user: UserView): string {
  return details([
    ['id', user.id],
    ['email', user.email],
    ['email_verified', user.email_verified],
    ['name', user.name],
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

  const create = leaf<PasswordFlags & { email?: string; name?: string; emailVerified?: boolean }>(
    user,
    'create',
    'create a person; the password comes from a hidden prompt or --password-stdin',
    io,
  );
  withPasswordSource(create.command)
    .option('--email <email>', 'email address (their sign-in name)')
    .option('--name <name>', 'full name (the `name` claim)')
    .option('--email-verified', 'mark the email address as verified (the `email_verified` claim)');
  create.command.addHelpText('after', '\nExample:\n  printf %s "$PASSWORD" | gatehouse user create --email ada@example.com --name "Ada Lovelace" --password-stdin');
  create.handle(async (ctx, flags) => {
    if (!flags.email) throw CliError.usage('user create: --email is required');
    const password = await readPassword(io, flags);
    const created = await createUser(ctx.prisma, {
      email: flags.email,
      password,
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      ...(flags.emailVerified ? { email_verified: true } : {}),
    });
    await ctx.audit({ type: 'user.created', outcome: 'success', subject: created.id });
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
    return { json: { ...found, factors }, text: `${userDetails(found)}\n\n${factorLines}` };
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
        await ctx.audit({ type: 'user.updated', outcome: 'success', subject: found.id, details: { disabled } });
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
    const revoked = await revokeUserGrants(ctx.prisma, found.id, flags.client);
    await ctx.audit({ type: 'grant.revoked', outcome: 'success', subject: found.id, clientId: flags.client ?? null, details: { grants: revoked } });
    return {
      json: { user_id: found.id, client_id: flags.client ?? null, revoked_grants: revoked },
      text: `revoked ${revoked} grant${revoked === 1 ? '' : 's'} of ${found.email}${flags.client ? ` at client ${flags.client}` : ''}`,
    };
  });
}
