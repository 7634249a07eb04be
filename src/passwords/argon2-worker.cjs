'use strict';
// One Argon2 thread of src/passwords/argon2-threads.ts. Plain CommonJS on purpose: a worker's entry
// is loaded by Node itself, outside tsx and tsc, in the source tree and in dist/ alike (copied by
// scripts/build.mjs). It lowers its own CPU priority, then hashes and verifies one job at a time
// with the binding's synchronous calls: this thread does nothing else.
const { readlinkSync } = require('node:fs');
const { setPriority } = require('node:os');
const { parentPort, workerData } = require('node:worker_threads');
const argon2 = require('@node-rs/argon2');

/** Linux only: `/proc/thread-self` names this thread, and a thread's nice value is its own. */
function lowerPriority(priority) {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return undefined;
    setPriority(tid, priority);
    return tid;
  } catch {
    // Another OS, or a sandbox that refuses it: the thread runs at the process's priority.
    return undefined;
  }
}

const tid = lowerPriority(workerData.priority);
parentPort.postMessage({ kind: 'started', tid: tid ?? null });
parentPort.on('message', (job) => {
  try {
    const value = job.op === 'hash' ? argon2.hashSync(job.password, job.options) : argon2.verifySync(job.stored, job.password);
    parentPort.postMessage({ kind: 'done', id: job.id, value });
  } catch (error) {
    parentPort.postMessage({ kind: 'failed', id: job.id, message: error instanceof Error ? error.message : String(error) });
  }
});
