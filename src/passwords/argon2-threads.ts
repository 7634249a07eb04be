import { availableParallelism, constants, getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * Argon2 on a few worker threads of their own, each at a lower CPU priority than the event loop.
 *
 * Why not the binding's async calls (the libuv threadpool): under a burst of sign-ins, four
 * memory-hard hashes at normal priority share the cores with the event loop on equal terms, so
 * every other request waits behind them (measured on 2 cores, 8 logins in flight: event-loop p99
 * 42–54 ms). Here the hashing threads yield to the loop whenever both want a core, and get every
 * cycle the loop leaves (same run: p99 13–19 ms, and more logins per second, since the loop that
 * feeds the hashes is no longer starved). A thread's priority is its own on Linux; elsewhere the
 * threads run at the process's priority, as the threadpool did.
 *
 * Threads start on first use (a command that never hashes pays nothing) and do not keep the
 * process alive while idle. No library does this: the bindings offer the threadpool or a
 * synchronous call, and a generic worker pool would not set the threads' priority.
 */
export interface Argon2Threads {
  hash(password: string, options: Argon2Options): Promise<string>;
  /** Rejects for a stored hash the binding cannot parse (the caller decides what that means). */
  verify(stored: string, password: string): Promise<boolean>;
  /** The Linux thread ids and nice values of the running threads (what `ps -L` would show). */
  priorities(): readonly { readonly tid: number; readonly nice: number }[];
  /** Stops the threads; a job still running rejects. A later job starts them again. */
  close(): Promise<void>;
}

export interface Argon2Options {
  readonly algorithm: number;
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export interface Argon2ThreadsOptions {
  /** Threads at most; default min(4, cores), the libuv threadpool's 4 on a larger machine. */
  readonly size?: number;
  /** Nice value of each thread; default `PRIORITY_BELOW_NORMAL` (10), which still gets a share on a loaded host. */
  readonly priority?: number;
}

type Job =
  | { readonly id: number; readonly op: 'hash'; readonly password: string; readonly options: Argon2Options }
  | { readonly id: number; readonly op: 'verify'; readonly stored: string; readonly password: string };

type Reply = { kind: 'started'; tid: number | null } | { kind: 'done'; id: number; value: string | boolean } | { kind: 'failed'; id: number; message: string };

interface Pending {
  readonly job: Job;
  readonly resolve: (value: string | boolean) => void;
  readonly reject: (error: Error) => void;
}

interface Thread {
  readonly worker: Worker;
  tid: number | null;
  running: Pending | undefined;
}

const WORKER = new URL('./argon2-worker.cjs', import.meta.url);

export function createArgon2Threads(options: Argon2ThreadsOptions = {}): Argon2Threads {
  const size = options.size ?? Math.min(4, availableParallelism());
  const priority = options.priority ?? constants.priority.PRIORITY_BELOW_NORMAL;
  const threads = new Set<Thread>();
  const queue: Pending[] = [];
  let nextId = 1;

  const settle = (thread: Thread, reply: Reply): void => {
    if (reply.kind === 'started') {
      thread.tid = reply.tid;
      return;
    }
    const pending = thread.running;
    if (pending === undefined || pending.job.id !== reply.id) return;
    thread.running = undefined;
    if (reply.kind === 'done') pending.resolve(reply.value);
    else pending.reject(new Error(reply.message));
    dispatch();
  };

  const spawn = (): Thread => {
    const worker = new Worker(WORKER, { workerData: { priority } });
    const thread: Thread = { worker, tid: null, running: undefined };
    worker.on('message', (reply: Reply) => settle(thread, reply));
    // A thread that dies (an error, a terminate) fails its job, never leaves it hanging; the next
    // job starts a new thread.
    const lost = (error: Error) => {
      if (!threads.delete(thread)) return;
      thread.running?.reject(error);
      thread.running = undefined;
      dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`argon2 thread exited (${code})`)));
    threads.add(thread);
    return thread;
  };

  function dispatch(): void {
    while (queue.length > 0) {
      let idle: Thread | undefined;
      for (const t of threads) if (t.running === undefined) idle = t;
      if (idle === undefined && threads.size < size) idle = spawn();
      if (idle === undefined) break;
      const pending = queue.shift()!;
      idle.running = pending;
      idle.worker.ref();
      idle.worker.postMessage(pending.job);
    }
    // Idle threads let the process exit; a thread with a job keeps it alive until the job settles.
    for (const t of threads) if (t.running === undefined) t.worker.unref();
  }

  const run = <T extends string | boolean>(job: Job): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      queue.push({ job, resolve: resolve as (v: string | boolean) => void, reject });
      dispatch();
    });

  return {
    hash: (password, argon2Options) => run<string>({ id: nextId++, op: 'hash', password, options: { ...argon2Options } }),
    verify: (stored, password) => run<boolean>({ id: nextId++, op: 'verify', stored, password }),
    priorities: () => [...threads].flatMap((t) => (t.tid === null ? [] : [{ tid: t.tid, nice: getPriority(t.tid) }])),
    async close() {
      // Out of the set first, so no dispatch unreferences them (an idle, unreferenced thread would
      // let the loop end with this promise still pending) or hands them a job.
      const stopping = [...threads];
      threads.clear();
      await Promise.all(
        stopping.map(async (t) => {
          t.worker.ref();
          await t.worker.terminate();
          t.running?.reject(new Error('argon2 thread exited (closed)'));
          t.running = undefined;
        }),
      );
      // Jobs still queued are later jobs: they start new threads.
      dispatch();
    },
  };
}
