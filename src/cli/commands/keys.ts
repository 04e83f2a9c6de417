// `keys ...`: list, rotate and retire the RS256 signing keys.
import type { Command } from 'commander';
import { KeyRotationError, retireSigningKey, rotateSigningKey } from '../../keys/rotation.js';
import { listSigningKeys } from '../../keys/signing-keys.js';
import { formatDurationSeconds } from '../../util/duration.js';
import { durationArgument, leaf } from '../command.js';
import { CliError } from '../errors.js';
import { details, table, type Io } from '../output.js';

export function registerKeyCommands(program: Command, io: Io): void {
  const keys = program.command('keys').description('manage the signing keys of ID tokens and JWT access tokens');

  leaf(keys, 'list', 'list signing keys: kid, created, state (pending keys are published but do not sign yet)', io).handle(async (ctx) => {
    const rows = (await listSigningKeys(ctx.prisma)).map((k) => ({
      kid: k.kid,
      state: k.state,
      created_at: k.createdAt.toISOString(),
      activates_at: k.activatesAt.toISOString(),
      retired_at: k.retiredAt?.toISOString() ?? null,
    }));
    return {
      json: rows,
      text: table(rows, [
        { header: 'KID', value: (k) => k.kid },
        { header: 'STATE', value: (k) => k.state },
        { header: 'CREATED', value: (k) => k.created_at },
        { header: 'ACTIVATES', value: (k) => k.activates_at },
        { header: 'RETIRED', value: (k) => k.retired_at ?? '-' },
      ]),
    };
  });

  const rotate = leaf<{ activationDelay?: number }>(keys, 'rotate', 'create a new signing key: published at once, signing after the activation delay', io);
  rotate.command.option('--activation-delay <duration>', 'how long the new key is only published before it signs (default: KEY_ACTIVATION_DELAY)', durationArgument);
  rotate.handle(async (ctx, flags) => {
    const delay = flags.activationDelay ?? ctx.config.keys.activationDelaySeconds;
    const { kid, activatesAt } = await rotateSigningKey(ctx.prisma, ctx.keyEncryptionKey(), delay);
    await ctx.audit({ type: 'key.created', outcome: 'success', details: { kid, activatesAt: activatesAt.toISOString() } });
    const bound = formatDurationSeconds(ctx.config.keys.refreshIntervalSeconds);
    return {
      json: { kid, state: delay === 0 ? 'active' : 'pending', activates_at: activatesAt.toISOString() },
      text: details([
        ['kid', kid],
        ['published', `by running servers within ${bound} (KEY_REFRESH_INTERVAL)`],
        ['signs from', `${activatesAt.toISOString()} (plus up to ${bound})`],
      ]),
    };
  });

  const retire = leaf<{ force?: boolean }>(keys, 'retire <kid>', 'remove a superseded key from the JWKS once no token it signed can be valid', io);
  retire.command.option('--force', 'retire even though tokens it signed may still be valid (they stop verifying)');
  retire.handle(async (ctx, flags, [kid]) => {
    try {
      const { retiredAt } = await retireSigningKey(ctx.prisma, kid!, { force: Boolean(flags.force) });
      await ctx.audit({ type: 'key.retired', outcome: 'success', details: { kid: kid!, forced: Boolean(flags.force) } });
      return {
        json: { kid, state: 'retired', retired_at: retiredAt.toISOString() },
        text: `key ${kid} retired; running servers stop publishing it within ${formatDurationSeconds(ctx.config.keys.refreshIntervalSeconds)}`,
      };
    } catch (error) {
      if (error instanceof KeyRotationError) throw CliError.failure(error.message);
      throw error;
    }
  });
}
