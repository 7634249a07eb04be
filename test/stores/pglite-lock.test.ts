import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { StoreUnavailableError } from '../../src/errors/errors.js';
import { openDatabase } from '../../src/stores/db/database.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-pglite-lock-'));
  dirs.push(dir);
  return dir;
}

test('a second opener of an embedded database directory is refused while the first holds it; after close it opens', async () => {
  const path = await tempDir();
  const first = await openDatabase({ kind: 'pglite-dir', path });
  await assert.rejects(openDatabase({ kind: 'pglite-dir', path }), (error: unknown) => {
    assert.ok(error instanceof StoreUnavailableError);
    assert.match(error.logReason ?? error.message, /open in another process/);
    return true;
  });
  await first.ping();
  await first.close();
  const again = await openDatabase({ kind: 'pglite-dir', path });
  await again.close();
});

test('a lock left by a dead process (killed, never closed) is taken over', async () => {
  const path = await tempDir();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid;
  assert.ok(typeof dead === 'number');
  await writeFile(join(path, 'gatehouse.lock'), String(dead));
  const db = await openDatabase({ kind: 'pglite-dir', path });
  await db.ping();
  await db.close();
});
