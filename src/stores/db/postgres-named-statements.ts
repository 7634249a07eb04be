import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryConfig } from 'pg';

/**
 * A node-postgres pool whose statements are named, so each connection parses and plans a
 * statement once and then only binds and executes it.
 *
 * Hand-rolled because drizzle names a statement only when the caller prepares it by hand
 * (`.prepare(name)`), which the stores' one-off builders never do, and node-postgres names only
 * what it is told to. The name is a digest of the text (one text, one name, on every connection and
 * in every pool), which is all node-postgres needs to prepare it on a connection the first time it
 * runs there. At most `capacity` texts are named; any further text runs unnamed as before, so a
 * statement whose text varies (an IN list) cannot grow every connection's memory without end.
 * PostgreSQL re-plans a named statement itself when the schema under it changes, except when its
 * result's columns changed (a column added under `RETURNING sessions.*` by a newer instance's
 * migration in a rolling upgrade): then it refuses with "cached plan must not change result type".
 * That text is never named again in this process, and a statement run on the pool (no
 * transaction, so nothing of it ran) is retried at once, unnamed; one in a transaction fails
 * with it, as any statement error does, and its retry runs unnamed.
 */
export function withNamedStatements<P extends object>(pool: P, capacity = 512): P {
  // Typed as any object so the published declarations need no @types/pg; a node-postgres Pool it is.
  const raw = pool as unknown as Pool;
  /** A text's name; null: never named (its result type changed under a named statement). */
  const names = new Map<string, string | null>();
  const nameOf = (text: string): string | undefined => {
    let name = names.get(text);
    if (name === null) return undefined;
    if (name === undefined && names.size < capacity) {
      name = `gh_${createHash('sha256').update(text).digest('base64url').slice(0, 27)}`;
      names.set(text, name);
    }
    return name;
  };
  /** The query's arguments with a name added, when it is a config with text and no name of its own. */
  const named = (args: unknown[]): unknown[] => {
    const [config, ...rest] = args;
    if (typeof config !== 'object' || config === null) return args;
    const query = config as QueryConfig;
    if (query.name !== undefined || typeof query.text !== 'string') return args;
    const name = nameOf(query.text);
    return name === undefined ? args : [{ ...query, name }, ...rest];
  };
  const querying = <T extends Pool | PoolClient>(target: T, retry: boolean): ((...args: unknown[]) => unknown) => {
    const query = target.query.bind(target) as (...args: unknown[]) => unknown;
    return (...args) => {
      const withName = named(args);
      const result = query(...withName);
      if (withName === args || !(result instanceof Promise)) return result;
      return result.catch((error: unknown) => {
        if (!isResultTypeChanged(error)) throw error;
        names.set((args[0] as QueryConfig).text, null);
        if (!retry) throw error;
        return query(...args);
      });
    };
  };
  const client = (connection: PoolClient): PoolClient => {
    const query = querying(connection, false);
    return new Proxy(connection, {
      get: (target, property, receiver) => (property === 'query' ? query : (Reflect.get(target, property, receiver) as unknown)),
    });
  };

  const query = querying(raw, true);
  return new Proxy(raw, {
    get(target, property, receiver) {
      if (property === 'query') return query;
      // A transaction's client (drizzle connects one for it): its statements are named too.
      if (property === 'connect') {
        return (...args: unknown[]) => {
          if (args.length > 0) return (target.connect as (...a: unknown[]) => unknown)(...args);
          return target.connect().then(client);
        };
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  }) as unknown as P;
}

/** PostgreSQL's refusal to run a named statement whose result columns changed since it was planned. */
function isResultTypeChanged(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e?.code === '0A000' && typeof e.message === 'string' && e.message.includes('cached plan must not change result type');
}
