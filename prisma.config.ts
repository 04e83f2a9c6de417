// Prisma CLI configuration (tooling only; the server never loads this file).
// The CLI wants a native schema-engine binary before any command; `generate` only asks
// it for its version, so a stub stands in. Migrations go through the wasm engine.
import path from 'node:path';
import { defineConfig } from 'prisma/config';

process.env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.resolve('prisma/schema-engine-stub.cjs');
process.env.CHECKPOINT_DISABLE ??= '1';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: {
    path: 'prisma/migrations',
    seed: 'tsx src/cli/main.ts seed prisma/seed.example.json',
  },
});
