/**
 * Fills users.username_skeleton and username_upper_skeleton for rows that have none: those made
 * before migration 0007, and those an instance still running older code inserts. A SQL migration
 * cannot run the TypeScript skeleton, so this runs after the migrations at every start; it reads
 * only rows still null and is idempotent.
 *
 * Accounts that already look alike (an old "admin" and "admın") both keep working: the oldest
 * takes the skeleton, the later ones keep a null there (NULLs do not collide in a unique index),
 * and every new look-alike is refused because the skeleton is held.
 */
import { sql, type SQL, type Name } from 'drizzle-orm';
import { usernameSkeletons, type UsernameSkeletons } from '../../users/username-skeleton.js';
import { isUniqueViolation, type Db } from './database.js';

/** Counted per skeleton (each row has two). */
export interface SkeletonBackfillResult {
  /** Skeletons written where a row had none. */
  readonly filled: number;
  /** Skeletons left null because an older account holds the same: look-alike accounts from before. */
  readonly collisions: number;
}

const BATCH = 500;
/** A registration may take a skeleton between the read and the update; each retry sees it. */
const MAX_ATTEMPTS = 3;

const COLUMNS = [
  { column: sql.identifier('username_skeleton'), pick: (s: UsernameSkeletons) => s.lower },
  { column: sql.identifier('username_upper_skeleton'), pick: (s: UsernameSkeletons) => s.upper },
] as const;

interface PendingRow {
  readonly id: string;
  readonly username_key: string;
  readonly created_at: string;
  readonly lower_missing: boolean;
  readonly upper_missing: boolean;
}

function rowsOf(result: unknown): PendingRow[] {
  // node-postgres answers { rows }, PGlite too; drizzle passes the driver's result through.
  return ((result as { rows?: PendingRow[] }).rows ?? []) as PendingRow[];
}

/** Sets `column` to each value where it is still null and no other row holds the value; returns how many were set. */
async function fillColumn(db: Db, column: Name, values: readonly (readonly [string, string])[]): Promise<number> {
  if (values.length === 0) return 0;
  const list = sql.join(
    values.map(([id, value]) => sql`(${id}::uuid, ${value}::text)`),
    sql`, `,
  );
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await db.execute(sql`
        UPDATE users SET ${column} = v.value
        FROM (VALUES ${list}) AS v(id, value)
        WHERE users.id = v.id AND users.${column} IS NULL
          AND NOT EXISTS (SELECT 1 FROM users other WHERE other.${column} = v.value)
        RETURNING users.id`);
      return rowsOf(result).length;
    } catch (error) {
      if (!isUniqueViolation(error) || attempt === MAX_ATTEMPTS) throw error;
    }
  }
}

/** Oldest first, so that of two look-alike accounts from before the older keeps the skeleton. */
export async function backfillUsernameSkeletons(db: Db): Promise<SkeletonBackfillResult> {
  let filled = 0;
  let collisions = 0;
  let after: { createdAt: string; id: string } | undefined;
  for (;;) {
    const page: SQL = after === undefined ? sql`TRUE` : sql`(created_at, id) > (${after.createdAt}::timestamptz, ${after.id}::uuid)`;
    const rows = rowsOf(
      await db.execute(sql`
        SELECT id, username_key, created_at::text AS created_at,
               username_skeleton IS NULL AS lower_missing, username_upper_skeleton IS NULL AS upper_missing
        FROM users
        WHERE (username_skeleton IS NULL OR username_upper_skeleton IS NULL) AND ${page}
        ORDER BY created_at, id
        LIMIT ${BATCH}`),
    );
    if (rows.length === 0) return { filled, collisions };
    const last = rows[rows.length - 1]!;
    after = { createdAt: last.created_at, id: last.id };
    const skeletons = rows.map((row) => [row, usernameSkeletons(row.username_key)] as const);
    for (const [index, { column, pick }] of COLUMNS.entries()) {
      const seen = new Set<string>();
      const values: (readonly [string, string])[] = [];
      for (const [row, s] of skeletons) {
        if (!(index === 0 ? row.lower_missing : row.upper_missing)) continue;
        // Two look-alikes in one batch: the first (older) one takes it.
        const value = pick(s);
        if (seen.has(value)) continue;
        seen.add(value);
        values.push([row.id, value]);
      }
      const missing = rows.filter((row) => (index === 0 ? row.lower_missing : row.upper_missing)).length;
      const set = await fillColumn(db, column, values);
      filled += set;
      collisions += missing - set;
    }
  }
}
