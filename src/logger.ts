// JSON logs (pino). Credentials never reach a log line: request logs carry no headers,
// bodies or query strings, and these paths are censored wherever an object is logged.
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACTED_PATHS = [
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

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'gatehouse' }, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, destination);
}
