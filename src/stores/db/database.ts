import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { PoolClient } from 'pg';
import { unreachableStoreError } from '../unreachable-store.js';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import type { DatabaseTarget } from '../../config/config.js';
import { StoreUnavailableError } from '../../errors/errors.js';
import { SETTINGS } from '../../config/settings.js';
import { takePrefetchedPgliteArtifacts } from './pglite-artifacts.js';
import { withNamedStatements } from './postgres-named-statements.js';
import * as schema from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Db;
  /** Rejects with StoreUnavailableError when the database does not answer within `timeoutMs`. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL('./migrations', import.meta.url));
/**
 * A migrated, empty database (a gzipped PGlite dump, 4–5 MB) that `npm run build` writes beside
 * the compiled module (scripts/initial-database.mjs). A new embedded data directory starts from it
 * instead of running initdb and every migration: about half the first start. Absent (running from
 * the sources): initdb as before. Migrations added since it was written are applied on open as usual.
 */
const INITIAL_DATABASE = fileURLToPath(new URL('./initial-database.tgz', import.meta.url));
// Any fixed number works; it only has to be the same for every Gatehouse instance.
const MIGRATION_LOCK_ID = 0x6761_7465;

export interface OpenDatabaseOptions {
  /** A PostgreSQL connection reported an error (it is dropped; the query in flight answers 503). */
  readonly onError?: (error: Error) => void;
  /** PostgreSQL `statement_timeout` of the pooled connections; default GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS's. */
  readonly statementTimeoutMs?: number;
  /** PostgreSQL: name the statements, so each connection plans them once (default on). */
  readonly namedStatements?: boolean;
}

/** Connections in the pool of one instance. */
const POOL_SIZE = 10;
/** The longest a query waits for a pooled connection (one being opened, or one handed back), then 503. */
const POOL_WAIT_MS = 5000;

/**
 * Opens the configured database and applies the committed migrations. On PostgreSQL the
 * migration runs under an advisory lock, so instances starting together do not race.
 */
export async function openDatabase(target: DatabaseTarget, options: OpenDatabaseOptions = {}): Promise<Database> {
  if (target.kind === 'postgres')
    return openPostgres(target.url, {
      onError: options.onError,
      statementTimeoutMs: options.statementTimeoutMs ?? SETTINGS.GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS.fallback,
      namedStatements: options.namedStatements ?? SETTINGS.GATEHOUSE_DATABASE_NAMED_STATEMENTS.fallback === 'on',
    });
  return openPglite(target.kind === 'pglite-dir' ? target.path : undefined, target.kind === 'pglite-memory' ? target.template : undefined);
}

/**
 * Writes the dump of a freshly migrated in-memory database to `file`: a template that
 * {@link openDatabase} starts later in-memory databases from, skipping initdb (about 2 s each).
 */
export async function writePgliteTemplate(file: string, compression: 'none' | 'gzip' = 'none'): Promise<void> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  const client = new PGlite(pgliteOptions(PGlite.defaultStartParams));
  try {
    await migrate(drizzle(client, { schema }), { migrationsFolder: MIGRATIONS });
    const dump = await client.dumpDataDir(compression);
    await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  } finally {
    await client.close();
  }
}

/**
 * PostgreSQL's defaults size a shared server (shared_buffers 128 MB, wal_buffers 4 MB, …); one
 * embedded single-user backend never needs that much, and PGlite zero-fills its buffers at start,
 * so they cost resident memory and start time whether used or not (restart 819 ms / 313 MB RSS with
 * the defaults, 290 ms / 192 MB with these; see bench/embedded-footprint.ts). 16 MB of buffers
 * still holds the whole working set of 10,000 users and sessions.
 * PGlite's own start parameters (single-user mode, no parallel workers, …) are kept: `startParams`
 * replaces them rather than adding to them. Their `-F` (no fsync) does not weaken a `kill -9`:
 * every write still reaches the kernel before the query answers (test/stores/embedded-durability.test.ts);
 * only a machine crash can lose the last commits, as before. (`relaxedDurability` is not set: on
 * Node's file system PGlite writes through to the files and its sync step does nothing, so it would
 * buy nothing here.)
 */
const PGLITE_SETTINGS = [
  'shared_buffers=16MB',
  'wal_buffers=256kB',
  'work_mem=1MB',
  'maintenance_work_mem=4MB',
  'temp_buffers=1MB',
  'min_wal_size=32MB',
  'max_wal_size=64MB',
];

function pgliteOptions(defaults: readonly string[]): { startParams: string[] } {
  return { startParams: [...defaults, ...PGLITE_SETTINGS.flatMap((setting) => ['-c', setting])] };
}

async function openPglite(dir: string | undefined, template?: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  if (dir !== undefined) await mkdir(dir, { recursive: true, mode: 0o700 });
  const unlock = dir === undefined ? async () => {} : await lockDirectory(dir);
  let client: InstanceType<typeof PGlite>;
  let db: ReturnType<typeof drizzle>;
  try {
    const artifacts = await takePrefetchedPgliteArtifacts();
    const options = { ...pgliteOptions(PGlite.defaultStartParams), ...artifacts };
    if (dir !== undefined) client = new PGlite(dir, { ...options, ...(await initialDatabaseFor(dir)) });
    else if (template !== undefined) client = new PGlite({ ...options, loadDataDir: new Blob([await readFile(template)]) });
    else client = new PGlite(options);
    await migrate(drizzle(client, { schema }), { migrationsFolder: MIGRATIONS });
    // The running service's statements are parsed and planned once (see pglite-prepared.ts).
    const { withPreparedStatements } = await import('./pglite-prepared.js');
    db = drizzle(withPreparedStatements(client), { schema });
  } catch (error) {
    await unlock();
    throw error;
  }
  return wrap('pglite', db as unknown as Db, async () => {
    await client.close();
    await unlock();
  });
}

/** `loadDataDir` for a directory that holds no database yet, when the built image exists. */
async function initialDatabaseFor(dir: string): Promise<{ loadDataDir?: Blob }> {
  if (existsSync(join(dir, 'PG_VERSION')) || !existsSync(INITIAL_DATABASE)) return {};
  return { loadDataDir: new Blob([await readFile(INITIAL_DATABASE)]) };
}

async function openPostgres(
  url: string,
  { onError, statementTimeoutMs, namedStatements }: { onError: ((error: Error) => void) | undefined; statementTimeoutMs: number; namedStatements: boolean },
): Promise<Database> {
  const { default: pg } = await import('pg');
  const { drizzle } = await import('drizzle-orm/node-postgres');
  await migratePostgres(pg, url, onError);
  // Without a statement timeout, a lock held elsewhere (a long transaction, an operator's LOCK
  // TABLE) holds each query waiting on it, and with it its pooled connection: ten of them and
  // every request of the instance waits, for as long as the lock is held. With it, PostgreSQL
  // cancels the statement (57014), the transaction rolls back whole, and the request is a 503 with
  // Retry-After. Server-side on purpose, not the driver's query_timeout: that gives up on the answer
  // while the statement goes on, so a COMMIT it timed out may still have committed, and a rotation
  // answered 503 after it committed is a lost session (see the refresh grant in token-request.ts).
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE, connectionTimeoutMillis: POOL_WAIT_MS, statement_timeout: statementTimeoutMs });
  // A client losing its connection emits 'error', and an 'error' nobody listens to ends the process.
  // The pool listens only while a client is idle; a checked-out one (a transaction in flight, a
  // query waiting on a lock) needs its own listener. The query in flight rejects by itself (503);
  // the dead client is not queryable, so the pool drops it on release.
  // A dead client nobody releases would be lost to the pool for good (drizzle does not release
  // when BEGIN itself fails), and ten of them leave every query waiting for a connection. Whoever
  // holds it releases it within this turn if at all (a query's own handler, a transaction's
  // finally), so one still out after it is handed back here, as broken.
  const checkedOut = new Set<PoolClient>();
  pool.on('acquire', (client) => checkedOut.add(client));
  pool.on('release', (_error: Error | undefined, client: PoolClient) => checkedOut.delete(client));
  pool.on('connect', (client) =>
    client.on('error', (error) => {
      onError?.(error);
      setImmediate(() => {
        if (checkedOut.delete(client)) client.release(error);
      });
    }),
  );
  // The pool re-emits an idle client's error, which the client's listener above has reported already.
  pool.on('error', () => undefined);
  // Each connection parses and plans a statement once (see postgres-named-statements.ts).
  const db = drizzle(namedStatements ? withNamedStatements(pool) : pool, { schema });
  return wrap('postgres', db as unknown as Db, () => pool.end());
}

/**
 * Applies the migrations on a connection of their own, outside the pool: it waits on the advisory
 * lock for as long as another instance migrates, and a migration may rewrite a table, so neither
 * may be cut short by the pool's statement timeout.
 */
async function migratePostgres(pg: typeof import('pg').default, url: string, onError: ((error: Error) => void) | undefined): Promise<void> {
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const { migrate } = await import('drizzle-orm/node-postgres/migrator');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: POOL_WAIT_MS });
  // A connection lost mid-migration rejects the query in flight; unheard, its 'error' would end the process.
  client.on('error', (error) => onError?.(error));
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw unreachableStoreError('PostgreSQL', url, error, 'GATEHOUSE_DATABASE_URL');
  }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    await migrate(drizzle(client, { schema }), { migrationsFolder: MIGRATIONS });
  } finally {
    // Ending the session releases the advisory lock too, whether the unlock got through or not.
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await client.end().catch(() => undefined);
  }
}

/**
 * PGlite on disk has no lock of its own, and a second process opening the same directory corrupts
 * it (electric-sql/pglite#1106). This lock file holds the owner's pid: a live owner means refuse; a
 * dead one (killed, never closed) is a stale lock and is taken over.
 */
async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const lockPath = join(dir, 'gatehouse.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lockPath, String(process.pid), { flag: 'wx', mode: 0o600 });
      return async () => {
        await rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new StoreUnavailableError(`the embedded database ${dir} is open in another process (pid ${owner}); PGlite allows one process at a time`);
      }
      await rm(lockPath, { force: true });
    }
  }
  throw new StoreUnavailableError(`cannot lock the embedded database ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function wrap(kind: Database['kind'], db: Db, close: () => Promise<void>): Database {
  return {
    kind,
    db,
    async ping(timeoutMs = 2000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
      });
      try {
        await Promise.race([db.execute(sql`select 1`), timeout]);
      } catch (error) {
        throw new StoreUnavailableError(`${kind} did not answer`, error);
      } finally {
        clearTimeout(timer);
      }
    },
    close,
  };
}

/** PostgreSQL's unique_violation, whether drizzle wrapped the driver error or not. */
export function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}

/**
 * A failed query as the caller sees it: the store is unavailable (503), with the SQLSTATE and the
 * driver's first message line in the log reason. The driver error is not kept as `cause`, because
 * drizzle puts the bound parameters (hashes, emails) on it.
 */
export function databaseFailure(error: unknown): StoreUnavailableError {
  let code: string | undefined;
  let message = 'unknown error';
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const candidate = (e as { code?: unknown }).code;
    if (typeof candidate === 'string') code = candidate;
    const text = (e as { message?: unknown }).message;
    if (typeof text === 'string' && !text.startsWith('Failed query')) message = text.split('\n')[0] ?? message;
  }
  return new StoreUnavailableError(`database query failed${code === undefined ? '' : ` (${code})`}: ${message.slice(0, 200)}`);
}

const queryObservers = new Set<(seconds: number) => void>();

/**
 * Reports the duration of every {@link runQuery} (metrics); returns the detach function.
 * Process-wide: every database open in this process reports to every observer.
 */
export function observeQueries(observer: (seconds: number) => void): () => void {
  queryObservers.add(observer);
  return () => queryObservers.delete(observer);
}

/** Runs store work; any failure becomes StoreUnavailableError (see {@link databaseFailure}). */
export async function runQuery<T>(run: () => Promise<T>): Promise<T> {
  const start = queryObservers.size === 0 ? undefined : performance.now();
  try {
    return await run();
  } catch (error) {
    throw databaseFailure(error);
  } finally {
    if (start !== undefined) for (const observe of queryObservers) observe((performance.now() - start) / 1000);
  }
}
