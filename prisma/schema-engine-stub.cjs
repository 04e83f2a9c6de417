#!/usr/bin/env node
// Stand-in for Prisma's native schema-engine binary, which cannot be downloaded here.
// `prisma generate|validate|format` only ask it for --version; migrations run through
// the wasm engine instead (src/db/migrations.ts, `npm run db:migrate`).
const version = require('@prisma/schema-engine-wasm/package.json').version.split('-').pop();
if (process.argv.includes('--version') || process.argv.includes('-V')) {
  process.stdout.write(`schema-engine-cli ${version}\n`);
  process.exit(0);
}
process.stderr.write('The native Prisma schema engine is not installed here; use `npm run db:migrate`, `db:migrate:create` or `db:status`.\n');
process.exit(1);
