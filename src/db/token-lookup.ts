// Introspection and revocation do not know which kind of token they were shown: without a
// token_type_hint (RFC 7662 §2.1, RFC 7009 §2.1, both optional), oidc-provider looks the value up
// as an access token, client-credentials token and refresh token at once (lib/helpers/
// token_find.js), one adapter find() per table, all started in the same synchronous step. Those
// finds are gathered here and answered by one statement (a UNION ALL over the tables asked), so
// a lookup that cost three database round trips costs one; a single find is one statement as
// before. Gathering waits for no timer: it is flushed on the next tick, after the step that
// started the finds.
import type { AdapterPayload } from 'oidc-provider';
import type { Database } from './client.js';
import { parameter, timestampParameter, timestampValue } from './raw-sql.js';

export const TOKEN_MODELS = ['AccessToken', 'ClientCredentials', 'RefreshToken'] as const;
export type TokenModel = (typeof TOKEN_MODELS)[number];

type Waiter = { model: TokenModel; resolve: (payload: AdapterPayload | undefined) => void; reject: (error: unknown) => void };
type Row = { model: string; payload: unknown; consumed: number | bigint | string | null };

/** Expired rows are never found (the sweeper removes them later); `consumed` as epoch seconds. */
function statementFor(db: Pick<Database, 'provider'>, models: readonly TokenModel[]): string {
  const { provider } = db;
  const consumed = provider === 'postgresql' ? 'FLOOR(EXTRACT(EPOCH FROM "consumedAt"))::bigint' : `CAST(strftime('%s', "consumedAt") AS INTEGER)`;
  return models
    .map((model, index) => {
      // PostgreSQL numbers its parameters and reuses them; SQLite's `?` are positional.
      const [id, now] = provider === 'postgresql' ? [1, 2] : [2 * index + 1, 2 * index + 2];
      return `SELECT '${model}' AS "model", "payload", ${consumed} AS "consumed" FROM "${model}" WHERE "id" = ${parameter(provider, id)} AND ("expiresAt" IS NULL OR "expiresAt" > ${timestampParameter(provider, now)})`;
    })
    .join(' UNION ALL ');
}

function payloadOf(row: Row): AdapterPayload {
  const payload = (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as AdapterPayload;
  return row.consumed === null ? payload : { ...payload, consumed: Number(row.consumed) };
}

/** find(model, id) for the token tables, gathering the finds of one step for one value into one statement. */
export function tokenLookup(db: Pick<Database, 'sql' | 'provider'>): (model: TokenModel, id: string) => Promise<AdapterPayload | undefined> {
  const statements = new Map<string, string>();
  let pending = new Map<string, Waiter[]>();

  async function answer(id: string, waiters: Waiter[]): Promise<void> {
    const models = TOKEN_MODELS.filter((model) => waiters.some((w) => w.model === model));
    const key = models.join(',');
    let sql = statements.get(key);
    if (!sql) statements.set(key, (sql = statementFor(db, models)));
    const now = timestampValue(db.provider, new Date());
    const params = db.provider === 'postgresql' ? [id, now] : models.flatMap(() => [id, now]);
    try {
      const rows = (await db.sql.query(sql, params)) as Row[];
      for (const waiter of waiters) {
        const row = rows.find((r) => r.model === waiter.model);
        waiter.resolve(row ? payloadOf(row) : undefined);
      }
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
    }
  }

  function flush(): void {
    const batch = pending;
    pending = new Map();
    for (const [id, waiters] of batch) void answer(id, waiters);
  }

  return (model, id) =>
    new Promise((resolve, reject) => {
      if (pending.size === 0) process.nextTick(flush);
      const waiters = pending.get(id);
      if (waiters) waiters.push({ model, resolve, reject });
      else pending.set(id, [{ model, resolve, reject }]);
    });
}
