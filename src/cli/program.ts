// The admin CLI as a function of its arguments: builds the commander program, runs it, and
// turns every outcome into an exit code (0 success, 1 runtime failure, 2 usage or validation).
import { Command, CommanderError } from 'commander';
import { registerApiCommands } from './commands/apis.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerClientCommands } from './commands/clients.js';
import { registerIdpCommands } from './commands/idps.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerSeedCommand } from './commands/seed.js';
import { registerUserCommands } from './commands/users.js';
import { registerWebhookCommands } from './commands/webhooks.js';
import { describeError, EXIT_OK, EXIT_USAGE } from './errors.js';
import type { Io } from './output.js';

function buildProgram(io: Io): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse administration: clients, APIs, users, upstream identity providers, signing keys, audit log, webhooks and seed.\nConfiguration comes from the environment and .env, as for the server (DATABASE_URL, ...).')
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();
  registerClientCommands(program, io);
  registerApiCommands(program, io);
  registerUserCommands(program, io);
  registerIdpCommands(program, io);
  registerKeyCommands(program, io);
  registerAuditCommands(program, io);
  registerWebhookCommands(program, io);
  registerSeedCommand(program, io);
  // Every subcommand inherits exitOverride and the output streams, so usage errors reach us.
  const configure = (command: Command) => {
    command.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).showHelpAfterError('(add --help for usage)');
    command.commands.forEach(configure);
  };
  program.commands.forEach(configure);
  return program;
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  const program = buildProgram(io);
  try {
    if (argv.length === 0) {
      // A usage error: the help goes to stderr (stdout carries results only) with exit 2.
      program.outputHelp({ error: true });
      return EXIT_USAGE;
    }
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its own message (or the help/version text) already.
      return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const { message, exitCode } = describeError(error);
    io.stderr(`gatehouse: ${message}\n`);
    return exitCode;
  }
}
