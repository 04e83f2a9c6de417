// oidc-provider's storage contract (its example/my_adapter.js) over Prisma: one table per
// model, all of one shape (prisma/schema.prisma, "oidc-provider artifacts").
import { errors } from 'oidc-provider';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Database, Db } from './client.js';
import { jsonParameter, parameter, timestampParameter, timestampValue } from './raw-sql.js';
import { reserveReplayKey } from './replay-reservation.js';
import { TOKEN_MODELS, tokenLookup, type TokenModel } from './token-lookup.js';

/** The models oidc-provider stores through an adapter, each with its own table. */
export const ARTIFACT_MODELS = [
  'Session',
  'Interaction',
  'AuthorizationCode',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'RefreshToken',
  'AccessToken',
  'ClientCredentials',
  'Grant',
  'ReplayDetection',
  'PushedAuthorizationRequest',
  'InitialAccessToken',
  'RegistrationAccessToken',
] as const;
export type ArtifactModel = (typeof ARTIFACT_MODELS)[number];

type ArtifactRow = {
  id: string;
  payload: unknown;
  grantId: string | null;
  accountId: string | null;
  clientId: string | null;
  userCode: string | null;
  uid: string | null;
  expiresAt: Date | null;
  consumedAt: Date | null;
  createdAt: Date;
};
type ArtifactWrite = Omit<ArtifactRow, 'id' | 'createdAt' | 'consumedAt'>;
type Where = Record<string, unknown>;

/** The part of a Prisma model delegate the adapter needs; every artifact table satisfies it. */
export type ArtifactDelegate = {
  upsert(args: { where: { id: string }; create: ArtifactWrite & { id: string }; update: ArtifactWrite }): Promise<unknown>;
  findFirst(args: { where: Where }): Promise<ArtifactRow | null>;
  findMany(args: { where: Where; orderBy?: Where; select?: Record<string, boolean> }): Promise<ArtifactRow[]>;
  updateMany(args: { where: Where; data: Partial<ArtifactRow> }): Promise<{ count: number }>;
  deleteMany(args: { where: Where }): Promise<{ count: number }>;
};

export function artifactDelegate(prisma: Db, model: ArtifactModel): ArtifactDelegate {
  const key = model.charAt(0).toLowerCase() + model.slice(1);
  return (prisma as unknown as Record<string, ArtifactDelegate>)[key]!;
}

/**
 * Models whose expired rows stay visible to find/findByUserCode until swept: oidc-provider
 * checks their expiry itself (its device-code lookups pass `ignoreExpiration` and then refuse
 * an expired code; any other lookup refuses the payload once `exp` is past) and must still find
 * an expired device code to answer `expired_token` (RFC 8628 §3.5) rather than
 * `invalid_grant`, and to tell a person the code has expired.
 */
export const EXPIRY_CHECKED_BY_PROVIDER: ReadonlySet<ArtifactModel> = new Set(['DeviceCode']);

/**
 * find() by primary key through one raw SELECT. It is the lookup behind every token the provider
 * is shown (introspection tries up to three token tables, gathered into one statement by
 * token-lookup.ts, then loads the grant; userinfo, refresh
 * and revocation do the same), and through Prisma's model API each such lookup cost about
 * 0.35 ms of main-thread time in the introspection benchmark, most of it building the query; the
 * raw statement, sent straight to the driver adapter (direct-sql.ts), costs about 30 µs. Expiry is compared in SQL
 * against a value in the column's own encoding (raw-sql.ts), and `consumed` comes back as epoch
 * seconds.
 */
// Rows past their expiry are invisible (compared in SQL), whether or not the sweeper has removed them yet.
function rawFindById(db: Pick<Database, 'sql' | 'provider'>, model: ArtifactModel, hidesExpired: boolean, column: 'id' | 'uid' | 'userCode' = 'id') {
  const { provider } = db;
  const consumed = provider === 'postgresql' ? 'FLOOR(EXTRACT(EPOCH FROM "consumedAt"))::bigint' : `CAST(strftime('%s', "consumedAt") AS INTEGER)`;
  const live = hidesExpired ? ` AND ("expiresAt" IS NULL OR "expiresAt" > ${timestampParameter(provider, 2)})` : '';
  // By id: the primary key. By uid (sessions) or user code (device codes): the first match, as
  // the model API's findFirst answered.
  const limit = column === 'id' ? '' : ' LIMIT 1';
  const sql = `SELECT "payload", ${consumed} AS "consumed" FROM "${model}" WHERE "${column}" = ${parameter(provider, 1)}${live}${limit}`;
  return async (id: string): Promise<AdapterPayload | undefined> => {
    const params = hidesExpired ? [id, timestampValue(provider, new Date())] : [id];
    const rows = (await db.sql.query(sql, params)) as { payload: unknown; consumed: number | bigint | string | null }[];
    const row = rows[0];
    if (!row) return undefined;
    const payload = (typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload) as AdapterPayload;
    return row.consumed === null ? payload : { ...payload, consumed: Number(row.consumed) };
  };
}

/**
 * upsert(), consume() and destroy() through one raw statement each, for the same reason as
 * find(): every token issued is an upsert (a refresh rotation is a consume and two upserts; a
 * sign-in destroys its interactions and its pre-login session), and through the
 * model API each cost Prisma's query building on the main thread (Prisma's runtime was 22 % of
 * the main thread's time in the refresh-rotation profile). `INSERT ... ON CONFLICT DO UPDATE`
 * (SQLite ≥ 3.24, PostgreSQL) is one atomic statement; the values are encoded as Prisma writes
 * them (raw-sql.ts), createdAt included (set here as Prisma sets `@default(now())`, and left
 * alone on update as Prisma's upsert leaves it).
 */
function rawWrites(db: Pick<Database, 'sql' | 'provider'>, model: ArtifactModel) {
  const { provider } = db;
  const p = (n: number) => parameter(provider, n);
  const upsertSql =
    `INSERT INTO "${model}" ("id", "payload", "grantId", "accountId", "clientId", "userCode", "uid", "expiresAt", "createdAt") ` +
    `VALUES (${p(1)}, ${jsonParameter(provider, 2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${timestampParameter(provider, 8)}, ${timestampParameter(provider, 9)}) ` +
    `ON CONFLICT ("id") DO UPDATE SET "payload" = excluded."payload", "grantId" = excluded."grantId", "accountId" = excluded."accountId", ` +
    `"clientId" = excluded."clientId", "userCode" = excluded."userCode", "uid" = excluded."uid", "expiresAt" = excluded."expiresAt"`;
  const consumeSql =
    `UPDATE "${model}" SET "consumedAt" = ${timestampParameter(provider, 1)} ` +
    `WHERE "id" = ${p(2)} AND "consumedAt" IS NULL AND ("expiresAt" IS NULL OR "expiresAt" > ${timestampParameter(provider, 3)})`;
  const destroySql = `DELETE FROM "${model}" WHERE "id" = ${p(1)}`;
  return {
    async upsert(id: string, data: ArtifactWrite): Promise<void> {
      const at = (d: Date | null) => (d ? timestampValue(provider, d) : null);
      await db.sql.execute(upsertSql, [
        id,
        JSON.stringify(data.payload),
        data.grantId,
        data.accountId,
        data.clientId,
        data.userCode,
        data.uid,
        at(data.expiresAt),
        at(new Date()),
      ]);
    },
    async destroy(id: string): Promise<void> {
      await db.sql.execute(destroySql, [id]);
    },
    /** How many rows it marked consumed: 1, or 0 when already consumed, expired or gone. */
    async consume(id: string, now: Date): Promise<number> {
      const at = timestampValue(provider, now);
      return db.sql.execute(consumeSql, [at, id, at]);
    },
  };
}

export type ClientLookup = (clientId: string) => Promise<AdapterPayload | undefined>;

/** error_detail of a consume() that lost: another request consumed (or revoked) the row first. */
export const CONSUME_LOST = 'already consumed, revoked or expired (lost to a concurrent request)';

/**
 * Builds the adapter class oidc-provider constructs once per model name. Clients are not
 * artifacts: they come from our registry through `findClient`, and are never written here
 * (dynamic registration is off).
 */
/**
 * The error a refused second use of a replay key answers with. Only the request being served can
 * tell a client assertion from a DPoP proof, so the provider's side decides (src/oidc/replay-refusal.ts).
 */
export type ReplayRefusal = (id: string) => Error;

export function createOidcAdapter(
  db: Pick<Database, 'prisma' | 'sql' | 'provider'>,
  findClient: ClientLookup,
  replayRefusal: ReplayRefusal,
): new (name: string) => Adapter {
  const prisma: Db = db.prisma;
  // Shared by the three token models' adapters, so that their finds can be answered together.
  const findToken = tokenLookup(db);
  return class PrismaOidcAdapter implements Adapter {
    readonly #model: string;
    readonly #table: ArtifactDelegate | undefined;
    readonly #hidesExpired: boolean;
    readonly #findById: ((id: string) => Promise<AdapterPayload | undefined>) | undefined;
    readonly #writes: ReturnType<typeof rawWrites> | undefined;
    readonly #findByUid: ((uid: string) => Promise<AdapterPayload | undefined>) | undefined;
    readonly #findByUserCode: ((userCode: string) => Promise<AdapterPayload | undefined>) | undefined;

    constructor(name: string) {
      this.#model = name;
      this.#hidesExpired = !EXPIRY_CHECKED_BY_PROVIDER.has(name as ArtifactModel);
      if (name !== 'Client') {
        if (!(ARTIFACT_MODELS as readonly string[]).includes(name)) {
          throw new Error(`oidc-provider asked for storage of an unknown model: ${name}`);
        }
        this.#table = artifactDelegate(prisma, name as ArtifactModel);
        this.#findById = (TOKEN_MODELS as readonly string[]).includes(name)
          ? (id) => findToken(name as TokenModel, id)
          : rawFindById(db, name as ArtifactModel, this.#hidesExpired);
        this.#writes = rawWrites(db, name as ArtifactModel);
        this.#findByUid = rawFindById(db, name as ArtifactModel, this.#hidesExpired, 'uid');
        this.#findByUserCode = rawFindById(db, name as ArtifactModel, this.#hidesExpired, 'userCode');
      }
    }

    get #rows(): ArtifactDelegate {
      if (!this.#table) throw new Error('clients are managed by the registry, not written through the adapter');
      return this.#table;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const data: ArtifactWrite = {
        payload,
        grantId: payload.grantId ?? null,
        accountId: payload.accountId ?? null,
        clientId: payload.clientId ?? null,
        userCode: payload.userCode ?? null,
        uid: payload.uid ?? null,
        expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
      };
      if (this.#model === 'ReplayDetection') {
        // Single use is decided by this one conditional insert, not by the provider's find().
        if (!(await reserveReplayKey(db, id, payload, data.expiresAt))) throw replayRefusal(id);
        return;
      }
      if (!this.#writes) throw new Error('clients are managed by the registry, not written through the adapter');
      await this.#writes.upsert(id, data);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.#model === 'Client' || !this.#findById) return findClient(id);
      // oidc-provider looks a replay key up before storing it (find-then-save); answering
      // "not seen" sends every use, sequential or concurrent, to the insert in upsert(), which
      // alone decides and refuses a second use with the right error (src/oidc/replay-refusal.ts).
      if (this.#model === 'ReplayDetection') return undefined;
      return this.#findById(id);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      if (!this.#findByUid) throw new Error('clients are managed by the registry, not written through the adapter');
      return this.#findByUid(uid);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      if (!this.#findByUserCode) throw new Error('clients are managed by the registry, not written through the adapter');
      return this.#findByUserCode(userCode);
    }

    /**
     * Marks the artifact consumed with one conditional update, so that of two concurrent
     * consumers exactly one wins. oidc-provider checks `consumed` and calls consume() as two
     * steps with I/O between them; the loser surfaces here as invalid_grant
     * (RFC 6749 §5.2) instead of a second set of tokens (RFC 9700 §4.14.2).
     */
    async consume(id: string): Promise<void> {
      if (!this.#writes) throw new Error('clients are managed by the registry, not written through the adapter');
      const count = await this.#writes.consume(id, new Date());
      if (count === 0) throw new errors.InvalidGrant(CONSUME_LOST);
    }

    async destroy(id: string): Promise<void> {
      if (!this.#writes) throw new Error('clients are managed by the registry, not written through the adapter');
      await this.#writes.destroy(id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await this.#rows.deleteMany({ where: { grantId } });
    }
  };
}
