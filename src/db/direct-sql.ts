// Raw statements sent straight to the driver adapter Prisma itself runs on (the same connection
// or pool), for the few statements on every token request (artifact finds and writes, the JWT
// state read, audit inserts). Prisma's `$queryRawUnsafe` costs about 100 µs of main-thread time
// per statement on SQLite in its runtime (serialising the parameters, the query plan, result
// deserialisation), against about 30 µs for the adapter's own queryRaw on the same statement
// (measured over 20,000 look-ups by primary key on Node 24); a refresh rotation sends seven such
// statements. The adapter interface (@prisma/driver-adapter-utils) is Prisma's public contract
// for drivers, and errors keep their driver-adapter shape, which isDatabaseUnavailable and
// isUniqueViolation already read.
import type { ArgScalarType, SqlDriverAdapter, SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';

/** The bind values these statements use; a Date is sent as Prisma sends one (ISO 8601). */
type SqlValue = string | number | bigint | boolean | null | Date;

export type DirectSql = {
  /** Rows as objects keyed by column name, values as the adapter returns them (JSON and int8 as text on PostgreSQL). */
  query(sql: string, args: readonly SqlValue[]): Promise<Record<string, unknown>[]>;
  /** Rows changed. */
  execute(sql: string, args: readonly SqlValue[]): Promise<number>;
};

/** The scalar type Prisma's raw query path gives each kind of value (so the adapters map them alike). */
function scalarTypeOf(value: SqlValue): ArgScalarType {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'number') return 'decimal';
  if (typeof value === 'bigint') return 'bigint';
  if (value instanceof Date) return 'datetime';
  return 'unknown';
}

function queryOf(sql: string, args: readonly SqlValue[]) {
  return {
    sql,
    args: args.map((value) => (value instanceof Date ? value.toISOString() : value)),
    argTypes: args.map((value) => ({ scalarType: scalarTypeOf(value), arity: 'scalar' as const })),
  };
}

/**
 * Wraps the adapter factory given to PrismaClient so that the adapter Prisma connects is also
 * ours to use. `connect` is what makes Prisma open it (PrismaClient connects on its first query
 * or on $connect); a reconnect replaces the adapter kept.
 */
export function sharedAdapter(factory: SqlDriverAdapterFactory, connect: () => Promise<void>): { factory: SqlDriverAdapterFactory; sql: DirectSql } {
  let adapter: SqlDriverAdapter | undefined;
  const shared: SqlDriverAdapterFactory = {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => (adapter = await factory.connect()),
  };
  const connected = async (): Promise<SqlDriverAdapter> => {
    if (!adapter) await connect();
    if (!adapter) throw new Error('the database adapter did not connect');
    return adapter;
  };
  return {
    factory: shared,
    sql: {
      async query(sql, args) {
        const result = await (adapter ?? (await connected())).queryRaw(queryOf(sql, args));
        const { columnNames, rows } = result;
        return rows.map((row) => {
          const record: Record<string, unknown> = {};
          for (let i = 0; i < columnNames.length; i++) record[columnNames[i]!] = row[i];
          return record;
        });
      },
      async execute(sql, args) {
        return (adapter ?? (await connected())).executeRaw(queryOf(sql, args));
      },
    },
  };
}
