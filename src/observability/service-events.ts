/**
 * Things the core reports that no request is waiting for (a Redis outage, a failed background
 * job). Services are built before the HTTP app and its logger exist, so they emit here and the app
 * attaches its log; events emitted with no handler attached are kept (bounded) and replayed to
 * the first one.
 */
export interface ServiceEvent {
  readonly event: string;
  /** `warn` for anything an operator should look at. */
  readonly level: 'info' | 'warn';
  readonly error?: unknown;
  readonly [field: string]: unknown;
}

export interface ServiceEventSink {
  emit(event: ServiceEvent): void;
  /** Returns the detach function. */
  attach(handler: (event: ServiceEvent) => void): () => void;
}

const MAX_PENDING = 100;

export function createServiceEventSink(): ServiceEventSink {
  const handlers = new Set<(event: ServiceEvent) => void>();
  const pending: ServiceEvent[] = [];
  return {
    emit(event) {
      if (handlers.size === 0) {
        if (pending.length < MAX_PENDING) pending.push(event);
        return;
      }
      for (const handler of handlers) handler(event);
    },
    attach(handler) {
      handlers.add(handler);
      for (const event of pending.splice(0)) handler(event);
      return () => handlers.delete(handler);
    },
  };
}
