// Running servers pick up `keys rotate` and `keys retire` without a restart. oidc-provider fixes
// its keystore at construction, so a change in the key set (a key added or retired, or a pending
// key reaching its activation time) makes the caller build a new provider. The check is one
// small query every KEY_REFRESH_INTERVAL, which is therefore the bound on how late a server is.
import type { Db } from '../db/client.js';
import { runEvery, type PeriodicTask } from '../util/run-every.js';
import { keyState } from './signing-keys.js';

/** What the provider's keystore depends on: which keys exist and the state of each now. */
export async function signingKeySetVersion(prisma: Db, now = new Date()): Promise<string> {
  const rows = await prisma.signingKey.findMany({ select: { kid: true, activatesAt: true, retiredAt: true }, orderBy: { kid: 'asc' } });
  return rows.map((row) => `${row.kid}:${keyState(row, now)}`).join(',');
}

/** Calls `reload` whenever the key set's version differs from the one the provider was built with. */
export function watchSigningKeys(options: {
  prisma: Db;
  initialVersion: string;
  intervalSeconds: number;
  reload: (version: string) => Promise<void>;
  onError: (error: unknown) => void;
}): PeriodicTask {
  let current = options.initialVersion;
  return runEvery(
    async () => {
      const version = await signingKeySetVersion(options.prisma);
      if (version === current) return;
      await options.reload(version);
      current = version;
    },
    options.intervalSeconds,
    options.onError,
  );
}
