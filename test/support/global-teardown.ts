import { rmSync } from 'node:fs';
import { withAdmin } from './postgres.js';

export default async function globalTeardown(): Promise<void> {
  const template = process.env.GATEHOUSE_TEST_PG_TEMPLATE;
  if (template) {
    await withAdmin(async (client) => {
      // The template and every per-file copy made from it in this run.
      const { rows } = await client.query<{ datname: string }>(
        "SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2",
        [template, `${template.replace('gh_tpl', 'gh_t')}%`],
      );
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    });
  }
  const runDir = process.env.GATEHOUSE_TEST_RUN_DIR;
  if (runDir) rmSync(runDir, { recursive: true, force: true });
}
