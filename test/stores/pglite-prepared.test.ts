import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PGlite, protocol } from '@electric-sql/pglite';
import { withPreparedStatements } from '../../src/stores/db/pglite-prepared.js';

/** The prepared-statement client answers exactly as PGlite's own `query` does, and stays bounded. */
describe('PGlite with named prepared statements', () => {
  let raw: PGlite;
  let pg: PGlite;
  const preparedCount = async (): Promise<number> =>
    (await raw.query<{ n: number }>(`select count(*)::int as n from pg_prepared_statements where name like 'gh\\_%'`)).rows[0]!.n;

  before(async () => {
    raw = await PGlite.create();
    await raw.exec(`create table things (
      id uuid primary key, name text unique not null, tags text[] not null default '{}', data jsonb,
      n bigint, blob bytea, at timestamptz not null default now(), flag boolean)`);
    pg = withPreparedStatements(raw, 4);
  });
  after(async () => raw.close());

  test('the same rows, fields and counts as query, for every column type and null parameters, in both row modes', async () => {
    const insert = `insert into things (id, name, tags, data, n, blob, at, flag) values ($1, $2, $3, $4, $5, $6, $7, $8) returning *`;
    const row = [
      '0b3c8f2e-1d4a-4c55-9a0e-7f1b2c3d4e5f',
      'one',
      ['a', 'b,c', '"q"'],
      { k: [1, 'x'] },
      9007199254740993n,
      new Uint8Array([0, 255, 7]),
      new Date('2030-01-02T03:04:05.678Z'),
      true,
    ];
    const inserted = await pg.query(insert, row);
    assert.equal(inserted.affectedRows, 1);
    await pg.query(insert, ['7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d', 'two', [], null, null, null, new Date(0), null]);
    for (const options of [undefined, { rowMode: 'array' as const }, { rowMode: 'array' as const, parsers: { 1184: (v: string) => v } }]) {
      for (const params of [['one'], ['two'], ['nobody']]) {
        const text = `select * from things where name = $1`;
        const [ours, theirs] = [await pg.query(text, params, options), await raw.query(text, params, options)];
        assert.deepEqual(ours.rows, theirs.rows, JSON.stringify({ options, params }));
        assert.deepEqual(ours.fields, theirs.fields);
      }
    }
    const one = (await pg.query<{ tags: string[]; n: number; blob: Uint8Array; at: Date }>(`select * from things where name = $1`, ['one'])).rows[0]!;
    assert.deepEqual(one.tags, ['a', 'b,c', '"q"']);
    assert.deepEqual([...one.blob], [0, 255, 7]);
    assert.equal(one.at.toISOString(), '2030-01-02T03:04:05.678Z');
    const updated = await pg.query(`update things set flag = $1 where name = any($2)`, [false, ['one', 'two']]);
    assert.equal(updated.affectedRows, 2);
    assert.ok((await preparedCount()) > 0, 'the statements ran prepared, not through query');
  });

  test("a caller's parameter types run through query as asked; notices reach the caller's onNotice", async () => {
    const typed = await pg.query<{ v: unknown }>('select $1 as v', ['42'], { paramTypes: [23] });
    assert.deepEqual(typed.rows, [{ v: 42 }], 'an int, as the caller typed it');
    await raw.exec(`create function say_hello() returns int language plpgsql as $$ begin raise notice 'hello'; return 1; end $$`);
    const notices: string[] = [];
    const result = await pg.query<{ v: number }>('select say_hello() as v where $1::int = 1', [1], { onNotice: (n) => notices.push(n.message ?? '') });
    assert.deepEqual(result.rows, [{ v: 1 }]);
    assert.deepEqual(notices, ['hello']);
  });

  test("malicious: a failing statement is PGlite's DatabaseError with its code and the query, and the next statement runs", async () => {
    const text = `insert into things (id, name) values ($1, $2)`;
    const error = await pg.query(text, ['5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a', 'one']).then(
      () => assert.fail('a duplicate name was inserted'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof protocol.messages.DatabaseError);
    assert.equal(error.code, '23505');
    assert.equal((error as { query?: string }).query, text);
    await assert.rejects(pg.query(`select nonsense from`, []), (e: unknown) => e instanceof protocol.messages.DatabaseError && e.code === '42601');
    assert.equal((await pg.query(`select count(*)::int as n from things`)).rows.length, 1);
  });

  test('malicious: a statement whose result columns changed under it fails, never answering with the columns it was prepared with', async () => {
    await raw.exec(`create table shapes (id int primary key, a text)`);
    await raw.exec(`insert into shapes values (1, 'one')`);
    const text = `select * from shapes where id = $1`;
    assert.deepEqual((await pg.query(text, [1])).rows, [{ id: 1, a: 'one' }]);
    await raw.exec(`alter table shapes add column b text not null default 'new'`);
    await assert.rejects(pg.query(text, [1]), (e: unknown) => e instanceof protocol.messages.DatabaseError && e.code === '0A000');
    // A statement whose columns did not change runs on, with its columns named as before.
    assert.deepEqual((await pg.query(`select a, id from shapes where id = $1`, [1])).rows, [{ a: 'one', id: 1 }]);
    await raw.exec(`alter table shapes add column c int`);
    assert.deepEqual((await pg.query(`select a, id from shapes where id = $1`, [1])).rows, [{ a: 'one', id: 1 }]);
  });

  test('transactions: statements inside commit or roll back with it, and a statement first prepared in a rolled-back one still runs', async () => {
    const text = `insert into things (id, name) values ($1, $2)`;
    await assert.rejects(
      pg.transaction(async (tx) => {
        await tx.query(text, ['1e2d3c4b-5a69-4788-9a6b-5c4d3e2f1a0b', 'rolled back']);
        await tx.query(`select * from things where name = $1 and flag is not distinct from $2`, ['rolled back', null]);
        throw new Error('abort');
      }),
      /abort/,
    );
    assert.equal((await pg.query(`select * from things where name = $1 and flag is not distinct from $2`, ['rolled back', null])).rows.length, 0);
    await pg.transaction(async (tx) => tx.query(text, ['2f3e4d5c-6b7a-4899-8a7b-6c5d4e3f2a1b', 'committed']));
    assert.equal((await raw.query(`select * from things where name = $1`, ['committed'])).rows.length, 1);
  });

  test('statements run one at a time: 60 concurrent queries and a transaction each get their own answer', async () => {
    const names = Array.from({ length: 60 }, (_, i) => `c${i}`);
    const [answers] = await Promise.all([
      Promise.all(names.map((name, i) => pg.query<{ v: string }>(i % 2 === 0 ? `select $1::text as v` : `select $1::text || '' as v`, [name]))),
      pg.transaction(async (tx) => {
        for (const name of names.slice(0, 5)) await tx.query(`insert into things (id, name) values (gen_random_uuid(), $1)`, [`tx-${name}`]);
      }),
    ]);
    assert.deepEqual(
      answers.map((a) => a.rows[0]!.v),
      names,
    );
    assert.equal((await pg.query(`select * from things where name like 'tx-%'`)).rows.length, 5);
  });

  test('malicious: statements whose text varies never pile up: at most `capacity` kept, the oldest closed, each text still answered', async () => {
    for (let i = 0; i < 20; i++) {
      const text = `select ${i} as i, $1::int as v`;
      assert.deepEqual((await pg.query(text, [i])).rows, [{ i, v: i }]);
    }
    assert.ok((await preparedCount()) <= 4, `${await preparedCount()} statements kept`);
    assert.deepEqual((await pg.query(`select 0 as i, $1::int as v`, [7])).rows, [{ i: 0, v: 7 }], 'a closed one is prepared again');
  });
});
