import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/stores/db/database.js';
import { withNamedStatements } from '../../src/stores/db/postgres-named-statements.js';
import { createTestStores, testStoreProfile, type TestStores } from '../support/test-stores.js';

/** Named statements on PostgreSQL: planned once per connection, one name per text, bounded, and off when told. */
describe('PostgreSQL named statements', { skip: testStoreProfile === 'real' ? false : 'real pass only: PGlite has its own (pglite-prepared.test.ts)' }, () => {
  let stores: TestStores;
  let pool: pg.Pool;
  before(async () => {
    stores = await createTestStores();
    pool = new pg.Pool({ connectionString: stores.databaseUrl, max: 4 });
  });
  after(async () => {
    await pool.end();
    await stores.cleanup();
  });

  /** The statements this connection has prepared: pg_prepared_statements is per session. */
  const preparedOn = async (client: pg.PoolClient): Promise<{ name: string; statement: string }[]> =>
    (await client.query<{ name: string; statement: string }>(`select name, statement from pg_prepared_statements order by name`)).rows;

  test('a statement runs named, prepared once on its connection, with the same answers as unnamed', async () => {
    const named = withNamedStatements(pool);
    const client = await named.connect();
    try {
      const text = 'select $1::int + 1 as v';
      for (const v of [1, 2, 3]) assert.deepEqual((await client.query({ text, values: [v] })).rows, [{ v: v + 1 }]);
      const prepared = await preparedOn(client);
      assert.equal(prepared.length, 1, JSON.stringify(prepared));
      assert.match(prepared[0]!.name, /^gh_/);
      assert.equal(prepared[0]!.statement, text);
    } finally {
      client.release();
    }
    assert.deepEqual((await named.query({ text: 'select $1::text as v', values: ['pool'] })).rows, [{ v: 'pool' }], 'pool.query too');
  });

  test('one text, one name on every connection: 40 concurrent runs over 4 connections each get their own answer', async () => {
    const named = withNamedStatements(pool);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => named.query<{ v: number }>({ text: 'select $1::int * 2 as v', values: [i] }).then((r) => r.rows[0]!.v)),
    );
    assert.deepEqual(
      answers,
      Array.from({ length: 40 }, (_, i) => i * 2),
    );
  });

  test('malicious: a failing named statement keeps its error code, and the statement still runs after', async () => {
    const named = withNamedStatements(pool);
    await named.query('create table if not exists named_unique (k text primary key)');
    const insert = { text: 'insert into named_unique (k) values ($1)', values: ['a'] };
    await named.query(insert);
    await assert.rejects(named.query(insert), (e: unknown) => (e as { code?: string }).code === '23505');
    await named.query({ ...insert, values: ['b'] });
    assert.equal((await named.query('select count(*)::int as n from named_unique')).rows[0].n, 2);
  });

  test('malicious: texts that vary never pile up: at most `capacity` names, the rest run unnamed', async () => {
    const named = withNamedStatements(pool, 3);
    const client = await named.connect();
    try {
      for (let i = 0; i < 12; i++) assert.deepEqual((await client.query({ text: `select ${i} as i, $1::int as v`, values: [i] })).rows, [{ i, v: i }]);
      // The connection may hold other tests' statements: only these texts count.
      assert.equal((await preparedOn(client)).filter((p) => p.statement.endsWith('as i, $1::int as v')).length, 3);
    } finally {
      client.release();
    }
  });

  test("malicious: a column added under a named statement's `*` (a rolling upgrade's migration) costs no request on the pool, and one in a transaction once", async () => {
    const named = withNamedStatements(pool, 512);
    await named.query('create table if not exists named_widening (k int primary key)');
    await named.query('insert into named_widening (k) values (1)');
    // Two texts: the first refusal stops naming its text in the whole process.
    const onPool = { text: 'select * from named_widening where k = $1', values: [1] };
    const inTransaction = { text: 'select * from named_widening where k = $1 and true', values: [1] };
    const client = await named.connect();
    let released = false;
    try {
      // Planned on every connection of the pool, the transaction's included.
      await Promise.all(Array.from({ length: 8 }, () => named.query(onPool)));
      await client.query(onPool);
      await client.query(inTransaction);
      await named.query('alter table named_widening add column added text');
      await client.query('begin');
      await assert.rejects(client.query(inTransaction), /cached plan must not change result type/, 'in a transaction: this one fails');
      await client.query('rollback');
      assert.deepEqual((await client.query(inTransaction)).rows, [{ k: 1, added: null }], 'and its retry runs unnamed');
      client.release();
      released = true;
      const answers = await Promise.all(Array.from({ length: 8 }, () => named.query(onPool)));
      for (const answer of answers) assert.deepEqual(answer.rows, [{ k: 1, added: null }], 'the pool retried it unnamed');
    } finally {
      if (!released) client.release();
    }
  });

  test('GATEHOUSE_DATABASE_NAMED_STATEMENTS: on prepares the service statements, off prepares none', async () => {
    const countInTransaction = async (database: Database): Promise<number> =>
      database.db.transaction(async (tx) => {
        await tx.execute(sql`select ${1}::int as one`);
        const rows = (await tx.execute(sql`select count(*)::int as n from pg_prepared_statements`)) as unknown as { rows: { n: number }[] };
        return rows.rows[0]!.n;
      });
    for (const [namedStatements, expectSome] of [
      [true, true],
      [false, false],
    ] as const) {
      const database = await openDatabase({ kind: 'postgres', url: stores.databaseUrl }, { namedStatements });
      try {
        const n = await countInTransaction(database);
        assert.equal(n > 0, expectSome, `namedStatements ${String(namedStatements)}: ${n} prepared`);
      } finally {
        await database.close();
      }
    }
  });
});
