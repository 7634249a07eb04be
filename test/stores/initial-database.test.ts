import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sql } from 'drizzle-orm';
import type { openDatabase as OpenDatabase } from '../../src/stores/db/database.js';

// The compiled module, as `npm start` runs it: the image lives beside dist/stores/db/database.js
// (npm test builds first). Run from the sources, a new directory runs initdb.
const compiled = new URL('../../dist/stores/db/database.js', import.meta.url);
const image = new URL('../../dist/stores/db/initial-database.tgz', import.meta.url);

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-initial-db-'));
  dirs.push(dir);
  return dir;
}

/** What `execute` answers on both drivers (drizzle types it per driver). */
interface Rows<T> {
  readonly rows: readonly T[];
}

async function systemIdentifierOf(open: typeof OpenDatabase, path: string, write?: string): Promise<{ id: string; marks: string[] }> {
  const database = await open({ kind: 'pglite-dir', path });
  try {
    if (write !== undefined) await database.db.execute(sql`insert into tenants (id, slug, name) values (gen_random_uuid(), ${write}, ${write})`);
    const control = (await database.db.execute(sql`select system_identifier::text as id from pg_control_system()`)) as unknown as Rows<{ id: string }>;
    const tenants = (await database.db.execute(sql`select slug from tenants order by slug`)) as unknown as Rows<{ slug: string }>;
    return { id: control.rows[0]!.id, marks: tenants.rows.map((r) => r.slug) };
  } finally {
    await database.close();
  }
}

test('a new embedded data directory starts from the built, migrated image; an existing one is never replaced by it', async () => {
  assert.ok(existsSync(image), 'npm run build writes dist/stores/db/initial-database.tgz');
  const { openDatabase } = (await import(compiled.href)) as { openDatabase: typeof OpenDatabase };
  const [a, b] = [await tempDir(), await tempDir()];
  const first = await systemIdentifierOf(openDatabase, a, 'alpha');
  const second = await systemIdentifierOf(openDatabase, b);
  // initdb draws a new system identifier every time: two equal ones mean neither ran initdb.
  assert.equal(first.id, second.id, 'both directories come from the one image');
  assert.deepEqual(second.marks, [], 'the image holds no data');
  const reopened = await systemIdentifierOf(openDatabase, a);
  assert.deepEqual(reopened.marks, ['alpha'], 'reopening keeps what was written: the image only seeds an empty directory');
});
