// Logs (pino): JSON lines, or readable lines for a person at a terminal. Credentials never
// reach a log line: request logs carry no headers, bodies or query strings, and these paths are
// censored wherever an object is logged.
import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';

export type { Logger };

const REDACTED_PATHS = [
  'authorization',
  'cookie',
  'password',
  'client_secret',
  'secret',
  'token',
  'code',
  'code_verifier',
  'refresh_token',
  'access_token',
  'id_token',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.client_secret',
  '*.secret',
  '*.token',
  '*.code_verifier',
  '*.refresh_token',
  '*.access_token',
  '*.id_token',
  'client_assertion',
  'id_token_hint',
  'device_code',
  'user_code',
  '*.client_assertion',
  '*.id_token_hint',
  '*.device_code',
  '*.user_code',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

/** The field names REDACTED_PATHS censors at the top level: the names of credentials. */
export const CREDENTIAL_FIELD_NAMES: ReadonlySet<string> = new Set(REDACTED_PATHS.filter((p) => !p.includes('.')));

/**
 * Without a destination, lines go to stdout asynchronously: each line is written at once when no
 * write is in flight, and lines arriving meanwhile are gathered into the next write, so under load
 * one write carries many lines instead of a synchronous write per line (one request line and one
 * audit line per token showed in the token endpoint's profile). pino flushes what is pending
 * synchronously when the process exits, so no line is lost at shutdown or on a start-up failure.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    { level, base: { service: 'gatehouse' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

export type LogFormat = 'json' | 'pretty';

/**
 * The server's logger, on stdout. JSON wherever a program reads the lines (production, CI,
 * containers, anything piped); readable lines only in development with stdout on a terminal,
 * unless LOG_FORMAT says otherwise.
 */
export function createStdoutLogger(config: { env: string; logLevel: string; logFormat: LogFormat | undefined }): Logger {
  const format = config.logFormat ?? (config.env === 'development' && process.stdout.isTTY ? 'pretty' : 'json');
  if (format === 'json') return createLogger(config.logLevel);
  // Formatted in-process and written synchronously (a development setting), so the last lines
  // before an exit are never lost; colours only when the terminal takes them.
  const prettify = prettyFactory({ translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
  const out = pino.destination({ dest: 1, sync: true });
  return createLogger(config.logLevel, { write: (line: string) => out.write(prettify(line)) });
}
