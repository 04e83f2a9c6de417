// Prisma's own schema engine compiled to wasm (@prisma/schema-engine-wasm, byte-identical to the
// one inside prisma@7.10.0), driven over our driver adapters (./adapters.ts). Prisma's CLI would
// download a native engine binary instead, which this project cannot rely on.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { bindMigrationAwareSqlAdapterFactory, type SqlDriverAdapter } from '@prisma/driver-adapter-utils';
import * as engineBindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg';
import { postgresConnection, sqliteConnection } from './adapters.js';
import { engineError, panicScope } from './errors.js';
import { WebAssembly } from './webassembly.js';
import { schemaPathFor, type DatabaseTarget, type MigrationSource } from './paths.js';



let bindingsReady: Promise<typeof engineBindings> | undefined;

/**
 * The package's main entry imports the .wasm file as an ES module, which Node 20 cannot do;
 * instantiate it by hand against its JS glue instead (once per process, about 30 ms).
 */
function loadEngineBindings(): Promise<typeof engineBindings> {
  bindingsReady ??= (async () => {
    // Where Rust panics leave their message; Prisma's CLI installs the same registry.
    panicScope.PRISMA_WASM_PANIC_REGISTRY ??= {
      message: '',
      get() {
        return this.message;
      },
      set_message(message: string) {
        this.message = message;
      },
    };
    const glue = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bytes = await readFile(path.join(path.dirname(glue), 'schema_engine_bg.wasm'));
    const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': withUnrefTimers(engineBindings) });
    engineBindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return engineBindings;
  })();
  return bindingsReady;
}

/**
 * The engine's timers are never cleared (its glue imports setTimeout but no clearTimeout): the
 * 10 s advisory-lock timeout of every PostgreSQL apply would hold the process open after the
 * migration finished. Unref them; pending queries keep the process alive while they matter.
 */
function withUnrefTimers(bindings: typeof engineBindings): Record<string, unknown> {
  const imports: Record<string, unknown> = { ...bindings };
  for (const name of Object.keys(imports)) {
    if (name.startsWith('__wbg_setTimeout_')) imports[name] = (fn: () => void, ms: number) => setTimeout(fn, ms >>> 0).unref();
  }
  return imports;
}

export type EngineSession = { engine: SchemaEngine; main: SqlDriverAdapter };

/**
 * Runs `fn` with an engine connected to the target, then closes every connection (and drops
 * any shadow database). Engine errors come back as one-line Errors.
 * `shadowOnly`: the operation needs nothing but a shadow database (createMigration).
 */
export async function withEngine<T>(
  target: DatabaseTarget,
  opts: MigrationSource & { shadowOnly?: boolean },
  fn: (session: EngineSession) => Promise<T>,
): Promise<T> {
  const bindings = await loadEngineBindings();
  const connection =
    target.provider === 'sqlite' ? sqliteConnection(opts.shadowOnly ? ':memory:' : target.file) : postgresConnection(target.url);
  const factory = bindMigrationAwareSqlAdapterFactory(connection.factory);
  let engine: SchemaEngine | undefined;
  try {
    const schemaPath = opts.schemaPath ?? schemaPathFor(target.provider);
    const schema = await readFile(schemaPath, 'utf8');
    engine = await bindings.SchemaEngine.new({ datamodels: [[schemaPath, schema]] }, () => undefined, factory);
    // The engine connects first thing; that adapter is the main database's.
    const main = await connection.factory.connect();
    return await fn({ engine, main });
  } catch (error) {
    throw engineError(error, factory.errorRegistry);
  } finally {
    engine?.free();
    await connection.close();
  }
}
