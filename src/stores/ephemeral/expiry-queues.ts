/** An entry of the memory store, linked into the queue of its ttl. */
export interface QueuedEntry {
  readonly key: string;
  value: string;
  readonly expiresAt: number;
  readonly ttlMs: number;
  prev: QueuedEntry | undefined;
  next: QueuedEntry | undefined;
}

interface Queue {
  head: QueuedEntry | undefined;
  tail: QueuedEntry | undefined;
}

/**
 * Entries grouped by ttl, each group in the order written. Entries of one ttl expire in the order
 * they were written, so each queue is expiry-ordered by construction and its head is its next to
 * expire: the earliest expiry overall is among the heads, one per distinct ttl in use.
 *
 * Hand-rolled because the job is small and the obvious substitutes are not O(1): a queue is a
 * doubly linked list through the entries, since taking the first entry of a `Map` after deleting
 * from its front walks over the holes those deletions leave (V8 compacts only on rehash), and a
 * heap costs O(log n) per write.
 *
 * @example
 * queues.append(entry);
 * const first = queues.soonest(); // the entry expiring first, looking at one head per ttl
 */
export class ExpiryQueues {
  readonly #queues = new Map<number, Queue>();

  /** Queues (distinct ttls) in use: what `soonest` looks at. */
  get count(): number {
    return this.#queues.size;
  }

  append(entry: QueuedEntry): void {
    let queue = this.#queues.get(entry.ttlMs);
    if (queue === undefined) {
      queue = { head: undefined, tail: undefined };
      this.#queues.set(entry.ttlMs, queue);
    }
    entry.prev = queue.tail;
    entry.next = undefined;
    if (queue.tail === undefined) queue.head = entry;
    else queue.tail.next = entry;
    queue.tail = entry;
  }

  unlink(entry: QueuedEntry): void {
    const queue = this.#queues.get(entry.ttlMs);
    // Not linked (already unlinked): nothing to do, and nothing to corrupt.
    if (queue === undefined || (entry.prev === undefined && queue.head !== entry)) return;
    if (entry.prev === undefined) queue.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) queue.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
    if (queue.head === undefined) this.#queues.delete(entry.ttlMs);
  }

  /** The entry expiring first (ties: the lower ttl's). */
  soonest(): QueuedEntry | undefined {
    let first: QueuedEntry | undefined;
    for (const { head } of this.#queues.values()) {
      if (head !== undefined && (first === undefined || head.expiresAt < first.expiresAt)) first = head;
    }
    return first;
  }

  /** Unlinks and yields every entry expired at `t`, taken from the heads: no live entry is looked past. */
  *drainExpired(t: number): Generator<QueuedEntry> {
    for (const ttl of [...this.#queues.keys()]) {
      let head = this.#queues.get(ttl)?.head;
      while (head !== undefined && head.expiresAt <= t) {
        this.unlink(head);
        yield head;
        head = this.#queues.get(ttl)?.head;
      }
    }
  }

  clear(): void {
    this.#queues.clear();
  }
}
