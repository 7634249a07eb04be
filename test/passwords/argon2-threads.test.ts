import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { verify as bindingVerify } from '@node-rs/argon2';
import { createArgon2Threads } from '../../src/passwords/argon2-threads.js';

// Cheap parameters: these tests are about the threads, not the hash (password-hasher.test.ts is).
const PARAMS = { algorithm: 2, memoryCost: 1024, timeCost: 1, parallelism: 1 };
const PASSWORD = 'correct horse battery staple';

describe('Argon2 threads', () => {
  const threads = createArgon2Threads({ size: 2 });
  after(() => threads.close());

  test('hashes and verifies as the binding does: a right password, a wrong one', async () => {
    const stored = await threads.hash(PASSWORD, PARAMS);
    assert.match(stored, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.equal(await bindingVerify(stored, PASSWORD), true, 'the binding itself accepts what the thread wrote');
    assert.equal(await threads.verify(stored, PASSWORD), true);
    assert.equal(await threads.verify(stored, `${PASSWORD}!`), false);
  });

  test('malicious: a stored hash the binding cannot parse rejects the job and leaves the threads working', async () => {
    await assert.rejects(threads.verify('$argon2id$v=19$m=1024,t=1,p=1$!!!$!!!', PASSWORD));
    const stored = await threads.hash(PASSWORD, PARAMS);
    assert.equal(await threads.verify(stored, PASSWORD), true);
  });

  test('more jobs than threads: every one is answered, each with its own result', async () => {
    const stored = await threads.hash(PASSWORD, PARAMS);
    const candidates = Array.from({ length: 9 }, (_, i) => (i % 3 === 0 ? PASSWORD : `${PASSWORD}${i}`));
    const results = await Promise.all(candidates.map((c) => threads.verify(stored, c)));
    assert.deepEqual(
      results,
      candidates.map((c) => c === PASSWORD),
    );
    assert.ok(threads.priorities().length <= 2, 'never more threads than the size');
  });

  test('on Linux the hashing threads run below the event loop’s priority, the loop itself unchanged', { skip: process.platform !== 'linux' }, async () => {
    const before = getPriority();
    await Promise.all([threads.hash(PASSWORD, PARAMS), threads.hash(PASSWORD, PARAMS)]);
    const running = threads.priorities();
    assert.ok(running.length >= 1, 'the threads report their ids');
    for (const { tid, nice } of running) {
      assert.notEqual(tid, process.pid, 'a thread of its own, not the main thread');
      assert.equal(nice, 10, `thread ${tid}`);
    }
    assert.equal(getPriority(), before, 'the main thread keeps its priority');
  });

  test('a job running when the threads stop rejects instead of hanging; the next job starts them again', async () => {
    const own = createArgon2Threads({ size: 1 });
    const slow = own.hash(PASSWORD, { ...PARAMS, memoryCost: 65536, timeCost: 8 });
    await new Promise((r) => setTimeout(r, 50));
    await own.close();
    await assert.rejects(slow, /argon2 thread exited/);
    assert.equal(await own.verify(await own.hash(PASSWORD, PARAMS), PASSWORD), true);
    await own.close();
  });

  test('idle threads do not keep a process alive, a running job does', () => {
    const module = fileURLToPath(new URL('../../src/passwords/argon2-threads.ts', import.meta.url));
    const script = `const { createArgon2Threads } = await import(${JSON.stringify(pathToFileURL(module).href)});
      const stored = await createArgon2Threads().hash('x', ${JSON.stringify(PARAMS)});
      console.log(stored.startsWith('$argon2id$') ? 'hashed' : 'wrong');`;
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'gh-argon2-')), 'hash-once.mjs');
    writeFileSync(file, script);
    const run = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 30_000 });
    rmSync(path.dirname(file), { recursive: true, force: true });
    assert.equal(run.signal, null, 'it exited by itself, not by the timeout');
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout.trim(), 'hashed', 'the process waited for the job before exiting');
  });
});
