/**
 * Reloading from a store when asked to, one run at a time. A call while a run is under way joins
 * it, and that run loads once more before it ends: it may have read the store before the change
 * that prompted the call. `settled` runs once, after the last load of a run succeeded.
 */
export function coalescedReload(load: () => Promise<void>, settled?: () => void): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return () => {
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await load();
        } while (again);
        settled?.();
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
}
