import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { machineBusyMs } from '../machine-cpu.js';

/**
 * The rotation ceiling on PostgreSQL: the bare compare-and-set a rotation is built on
 * (`UPDATE … SET spent_at WHERE digest = $1 AND spent_at IS NULL RETURNING`), one statement per
 * token, at the same concurrency as the rotation load, on the same database server.
 * `BENCH_RAW=rotation`: the least any rotation must write, the same spend and the insert of the
 * successor it names, in one statement (no session, no audit row).
 */
const url = process.env.BENCH_DATABASE_URL;
if (url === undefined) throw new Error('BENCH_DATABASE_URL is required');
const concurrency = Number(process.env.CONCURRENCY ?? '8');
const seconds = Number(process.env.SECONDS ?? '10');
const pool = new pg.Pool({ connectionString: url, max: concurrency });
const table = `bench_cas_${randomBytes(4).toString('hex')}`;
await pool.query(`CREATE TABLE ${table} (digest text PRIMARY KEY, spent_at timestamptz)`);
try {
  const count = 200_000;
  await pool.query(`INSERT INTO ${table} (digest) SELECT md5(g::text) FROM generate_series(1, $1) g`, [count]);
  let next = 1;
  let done = 0;
  const busyBefore = machineBusyMs();
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline && next <= count) {
        const digest = createHash('md5').update(String(next++)).digest('hex');
        const res =
          process.env.BENCH_RAW === 'rotation'
            ? await pool.query(
                `WITH spent AS (UPDATE ${table} SET spent_at = now() WHERE digest = $1 AND spent_at IS NULL RETURNING 1) INSERT INTO ${table} (digest) SELECT $2 FROM spent`,
                [digest, `s${digest}`],
              )
            : await pool.query(`UPDATE ${table} SET spent_at = now() WHERE digest = $1 AND spent_at IS NULL RETURNING 1`, [digest]);
        if (res.rowCount === 1) done += 1;
      }
    }),
  );
  const busyAfter = machineBusyMs();
  const busyMsPerUpdate = busyBefore === undefined || busyAfter === undefined ? Number.NaN : (busyAfter - busyBefore) / done;
  process.send?.({ type: 'result', perSecond: done / seconds, busyMsPerUpdate });
} finally {
  await pool.query(`DROP TABLE ${table}`);
  await pool.end();
}
