// What the schema engine throws, turned into one-line Errors that keep Prisma's P-code.
import type { ErrorRegistry } from '@prisma/driver-adapter-utils';
import { WebAssembly } from './webassembly.js';

// Where the engine's Rust panics leave their message (installed by ./engine.ts, as Prisma's CLI does).
export type PanicRegistry = { message: string; get(): string; set_message(message: string): void };
export const panicScope = globalThis as typeof globalThis & { PRISMA_WASM_PANIC_REGISTRY?: PanicRegistry };

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * One-line Error from what the engine throws: its message without the span trace, with
 * "External error id#N" (a JS exception the adapter binding parked in the registry) replaced
 * by that exception's message, and failed migrations named. Keeps the P-code as `code`.
 */
export function engineError(error: unknown, registry: ErrorRegistry): Error {
  if (error instanceof WebAssembly.RuntimeError) {
    const panic = panicScope.PRISMA_WASM_PANIC_REGISTRY?.get() || error.message;
    return new Error(`the schema engine crashed: ${oneLine(panic)}`);
  }
  const raw = errorMessage(error);
  const traceStart = raw.search(/^\s+\d+: \S/m);
  const trace = traceStart === -1 ? '' : raw.slice(traceStart);
  let message = (traceStart === -1 ? raw : raw.slice(0, traceStart))
    .replace(/External error id#(\d+)/g, (text, id: string) => {
      const parked = registry.consumeError(Number(id))?.error;
      return parked === undefined ? text : errorMessage(parked);
    })
    .replace(/^external connector error\s*/i, '');
  message = oneLine(message);
  const failedMigration = /Applying migration\s+with migration_name="([^"]+)"/.exec(trace)?.[1];
  if (failedMigration) message = `migration ${failedMigration} failed: ${message}`;
  const code = errorCode(error);
  return Object.assign(new Error(message), code ? { code } : {});
}

function oneLine(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .join(' ');
}
