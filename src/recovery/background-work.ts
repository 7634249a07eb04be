/**
 * Work a request starts but does not wait for: looking up an account and mailing it a code. The
 * request answers the same, at the same speed, whether there is an account or not; the work's
 * outcome goes to the audit trail and the log. Bounded: past `maxPending` jobs, new ones are
 * dropped (and reported), so a flood cannot queue work without end.
 */
export interface BackgroundWork {
  /** Starts `task` now, not awaited; false when it was dropped. */
  run(job: string, task: () => Promise<void>): boolean;
  /** Resolves once every job started so far has ended (tests, shutdown). */
  settled(): Promise<void>;
}

export interface BackgroundWorkOptions {
  readonly maxPending?: number;
  readonly onFailed: (job: string, error: unknown) => void;
  readonly onDropped: (job: string) => void;
}

export function createBackgroundWork(options: BackgroundWorkOptions): BackgroundWork {
  const maxPending = options.maxPending ?? 1_000;
  const pending = new Set<Promise<void>>();
  return {
    run(job, task) {
      if (pending.size >= maxPending) {
        options.onDropped(job);
        return false;
      }
      // After the current turn: the request's answer is on its way before any of the work starts.
      const running = new Promise<void>((resolve) => setImmediate(resolve))
        .then(task)
        .catch((error: unknown) => options.onFailed(job, error))
        .finally(() => pending.delete(running));
      pending.add(running);
      return true;
    },
    async settled() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
