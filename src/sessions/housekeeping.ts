/**
 * Runs a purge (expired sessions, spent state, deny-list entries) every `intervalMs`, in the
 * background. Store-agnostic: the purge itself is given, so this module imports no store.
 */

export interface HousekeepingOptions<T> {
  /** One full purge; its result goes to `onResult`, a rejection to `onError`. */
  readonly purge: () => Promise<T>;
  /** Time from the end of one run to the start of the next; the first run is one interval after start. */
  readonly intervalMs: number;
  readonly onResult?: (result: T) => void;
  /** A failed run (database down) is reported and retried at the next interval, never thrown. */
  readonly onError: (error: unknown) => void;
}

export interface Housekeeping {
  /**
   * Runs a purge now, or joins the one already running (runs never overlap). Resolves when that
   * run has ended and been reported; never rejects.
   */
  runNow(): Promise<void>;
  /** Cancels the next run and waits for a running one to finish, so the caller may close the stores. */
  stop(): Promise<void>;
}

/**
 * Starts the schedule. The timer is unref'd: housekeeping never keeps the process alive. Each
 * next run is scheduled after the previous one ended, so a slow purge cannot pile up behind itself.
 *
 * @example
 * const housekeeping = startHousekeeping({ purge: () => purgeExpired(db, new Date(), options), intervalMs: 600_000, onError: log });
 * // on shutdown, before closing the database:
 * await housekeeping.stop();
 */
export function startHousekeeping<T>(options: HousekeepingOptions<T>): Housekeeping {
  const { purge, intervalMs, onResult, onError } = options;
  // setTimeout clamps anything above 2^31-1 ms to 1 ms: refuse rather than purge in a loop.
  if (!Number.isSafeInteger(intervalMs) || intervalMs < 1 || intervalMs > 2_147_483_647) {
    throw new TypeError('intervalMs must be an integer from 1 to 2147483647');
  }
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  // A throwing callback must not become an unhandled rejection, nor stop the schedule.
  const report = (run: () => void): void => {
    try {
      run();
    } catch {
      // Nothing sensible to do with an error from the error reporter itself.
    }
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void runNow();
    }, intervalMs);
    timer.unref();
  };

  const runOnce = async (): Promise<void> => {
    try {
      const result = await purge();
      if (onResult !== undefined) report(() => onResult(result));
    } catch (error) {
      report(() => onError(error));
    }
  };

  const runNow = (): Promise<void> => {
    if (running !== undefined) return running;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    running = runOnce().finally(() => {
      running = undefined;
      schedule();
    });
    return running;
  };

  schedule();
  return {
    runNow: () => (stopped ? Promise.resolve() : runNow()),
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
