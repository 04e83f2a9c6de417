// The shape every command shares: a handler gets the CLI context and returns what to print,
// once for people (text) and once for scripts (JSON with stable snake_case field names).
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { parseDurationSeconds } from '../util/duration.js';
import { withCliContext, type CliContext } from './context.js';
import { json, type Io } from './output.js';

export type CommandResult = {
  json: unknown;
  text: string;
  /** A line for the person at the terminal (stderr), such as "store this secret now". */
  notice?: string;
};

export type Handler<O> = (ctx: CliContext, options: O, args: string[]) => Promise<CommandResult>;

/** A leaf command: `--json` added, and an action that opens the context and prints the result. */
export function leaf<O extends object>(parent: Command, spec: string, description: string, io: Io): {
  command: Command;
  handle: (handler: Handler<O>) => void;
} {
  const command = parent.command(spec).description(description).option('--json', 'print the result as JSON (stable field names, for scripts)');
  return {
    command,
    handle: (handler) => {
      command.action(async (...received: unknown[]) => {
        // commander passes the positional arguments, then the options object, then the command.
        const args = received.slice(0, -2).map((a) => String(a));
        const options = command.opts<O & { json?: boolean }>();
        const result = await withCliContext((ctx) => handler(ctx, options, args));
        io.stdout(`${options.json ? json(result.json) : result.text}\n`);
        if (result.notice) io.stderr(`${result.notice}\n`);
      });
    },
  };
}

/** For repeatable options: `--scope a --scope b` -> ['a', 'b']. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** A duration option (`24h`, `90s`, `15m`, `7d`) parsed to seconds at the command line. */
export function durationArgument(value: string): number {
  const seconds = parseDurationSeconds(value);
  if (seconds === null) throw new InvalidArgumentError('must be a duration like 90s, 15m, 24h or 7d.');
  return seconds;
}

export function positiveIntegerArgument(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('must be a whole number of at least 1.');
  return Number(value);
}
