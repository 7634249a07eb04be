import { parse, protocol, type PGlite, type QueryOptions, type Results, type Transaction } from '@electric-sql/pglite';

/**
 * PGlite with named prepared statements, for the embedded store's hot paths.
 *
 * Hand-rolled because neither library offers it: PGlite's `query` sends every statement unnamed
 * (Parse, Describe, Bind, Describe, Execute, Sync, six crossings into WebAssembly), so PostgreSQL
 * parses and plans it again each time, and drizzle's pglite driver has no prepared-statement
 * option. Here a statement is parsed and described once under a name; each later run is one
 * crossing with Bind, Execute and Sync. Measured: an indexed user lookup 1.1–1.4 ms →
 * 0.34 ms; the session store's rotations on a PGlite directory 395 → 1,094/s. Results are parsed
 * by PGlite's own `parseResults` and parameters serialized by its serializers, exactly as `query`
 * does, so drizzle sees the same answers and the same errors (a DatabaseError carrying `query`,
 * `params`, `queryOptions`).
 *
 * PostgreSQL keeps a named statement's plan valid across schema changes (it re-plans), and a
 * named statement is the session's, untouched by ROLLBACK. At most `capacity` statements are kept;
 * the least recently used is closed when a new one comes (queries whose text varies, such as IN
 * lists, would otherwise grow the backend's memory without end).
 */
export function withPreparedStatements(pg: PGlite, capacity = 512): PGlite {
  const statements = new Map<string, Statement>();

  /** Parses and describes `text` under a new name (closing the oldest when full); inside the query lock. */
  const prepare = async (text: string): Promise<Statement> => {
    const name = `gh_${(statementCounter++).toString(36)}`;
    const parts: Uint8Array[] = [];
    if (statements.size >= capacity) {
      const [oldest] = statements;
      if (oldest !== undefined) {
        statements.delete(oldest[0]);
        parts.push(protocol.serialize.close({ type: 'S', name: oldest[1].name }));
      }
    }
    parts.push(protocol.serialize.parse({ name, text }), protocol.serialize.describe({ type: 'S', name }), SYNC);
    const messages = await pg.execProtocolStream(concat(parts), { syncToFs: false });
    const description = messages.find((m) => m instanceof protocol.messages.ParameterDescriptionMessage);
    const rows = messages.find((m) => m instanceof protocol.messages.RowDescriptionMessage);
    const statement = { name, parameterTypes: description?.dataTypeIDs ?? [], rowDescription: rows };
    statements.set(text, statement);
    return statement;
  };

  /** One statement, bound and run; the caller holds the query lock. */
  const run = async (text: string, params: readonly unknown[], options: QueryOptions | undefined): Promise<Results> => {
    try {
      let statement = statements.get(text);
      if (statement === undefined) statement = await prepare(text);
      else {
        // Most recently used last: the first entry is the one to close when full.
        statements.delete(text);
        statements.set(text, statement);
      }
      const types = statement.parameterTypes;
      const values = params.map((value, i) => {
        if (value === null || value === undefined) return null;
        const type = types[i];
        const serializer = type === undefined ? undefined : (options?.serializers?.[type] ?? pg.serializers[type]);
        return serializer === undefined ? String(value) : serializer(value);
      });
      const bind = protocol.serialize.bind({ statement: statement.name, values });
      const messages = await pg.execProtocolStream(concat([bind, EXECUTE, SYNC]), {
        syncToFs: false,
        ...(options?.onNotice === undefined ? {} : { onNotice: options.onNotice }),
      });
      const answer = statement.rowDescription === undefined ? messages : [statement.rowDescription, ...messages];
      const [result] = parseAnswer(answer, pg.parsers, options);
      return result ?? { rows: [], fields: [] };
    } catch (error) {
      throw withQuery(error, text, params, options);
    }
  };

  const query = async <T>(text: string, params: unknown[] = [], options?: QueryOptions): Promise<Results<T>> => {
    if (!preparable(options)) return pg.query<T>(text, params, options);
    await pg._checkReady();
    // As `query`: after any transaction in progress, one statement at a time, synced after.
    return (await pg._runExclusiveTransaction(() =>
      pg._runExclusiveQuery(async () => {
        const result = await run(text, params, options);
        await pg.syncToFs();
        return result;
      }),
    )) as Results<T>;
  };

  const inTransaction = (tx: Transaction): Transaction =>
    new Proxy(tx, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
        return async <T>(text: string, params: unknown[] = [], options?: QueryOptions): Promise<Results<T>> => {
          if (!preparable(options) || target.closed) return target.query<T>(text, params, options);
          // The transaction holds PGlite's transaction lock already; statements still go one at a time.
          return (await pg._runExclusiveQuery(() => run(text, params, options))) as Results<T>;
        };
      },
    });

  return new Proxy(pg, {
    get(target, property) {
      if (property === 'query') return query;
      if (property === 'transaction') {
        return <T>(work: (tx: Transaction) => Promise<T>): Promise<T> => target.transaction((tx) => work(inTransaction(tx)));
      }
      // PGlite keeps its state in private fields: its methods must run on the instance itself.
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

type DefaultParsers = Parameters<typeof parse.parseResults>[1];

/**
 * `parse.parseResults`, with a caller's parsers (drizzle passes nine on every query: dates and
 * intervals as text) put in front of PGlite's without copying them. Given both, `parseResults`
 * copies all 318 of PGlite's into a new object for each statement (117 µs each, and garbage).
 * Here the caller's few sit on an object whose prototype is PGlite's table, which is all a parser
 * lookup (`parsers[typeId]`) needs. Measured: a user lookup 498–546 → 364–386 µs; HTTP refreshes
 * on a PGlite directory, 20 chains, 587–605 → 760–827/s.
 */
function parseAnswer(messages: Parameters<typeof parse.parseResults>[0], base: DefaultParsers, options: QueryOptions | undefined): Results[] {
  if (options?.parsers === undefined) return parse.parseResults(messages, base, options);
  const { parsers, ...rest } = options;
  return parse.parseResults(messages, Object.assign(Object.create(base) as DefaultParsers, parsers), rest);
}

/** Module-wide: two wrappers of one PGlite (one session) must never name two statements alike. */
let statementCounter = 0;

interface Statement {
  readonly name: string;
  readonly parameterTypes: readonly number[];
  /**
   * Its result's columns, from the Describe at prepare time (undefined: it returns no rows). Each
   * run reuses it instead of asking for the portal's: decoding every column's name again was a
   * tenth of a user lookup. It cannot go stale: PostgreSQL refuses to run a named statement whose
   * result columns changed ("cached plan must not change result type"), and results are bound in
   * text format, as the Describe of the statement reports them.
   */
  readonly rowDescription: InstanceType<typeof protocol.messages.RowDescriptionMessage> | undefined;
}

const SYNC = protocol.serialize.sync();
const EXECUTE = protocol.serialize.execute({});

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Whether a statement can run prepared: a blob (COPY) needs PGlite's own staging of the file, and
 * parameter types given by the caller belong to that one Parse, not to a name shared by every run.
 */
function preparable(options: QueryOptions | undefined): boolean {
  return options?.blob === undefined && options?.paramTypes === undefined;
}

/** As PGlite's `query` reports a failed statement: the database's error, with what was asked. */
function withQuery(error: unknown, query: string, params: readonly unknown[], options: QueryOptions | undefined): unknown {
  if (!(error instanceof protocol.messages.DatabaseError)) return error;
  return Object.assign(error, { query, params, queryOptions: options });
}
