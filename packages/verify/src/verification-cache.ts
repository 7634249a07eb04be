/**
 * Remembers values for tokens that passed full verification, so a token seen again costs a map
 * lookup instead of a signature check. Bounded (oldest entry evicted first) and expiry-aware:
 * an entry is never returned at or after its expiry. Only verified tokens are ever stored, so
 * garbage tokens cannot fill it.
 */
export interface VerificationCache<T> {
  get(token: string, nowSeconds: number): T | undefined;
  set(token: string, value: T, expiresAtSeconds: number): void;
  clear(): void;
  readonly size: number;
}

export function createVerificationCache<T>(maxEntries: number): VerificationCache<T> {
  const entries = new Map<string, { value: T; expiresAt: number }>();
  return {
    get(token, nowSeconds) {
      const entry = entries.get(token);
      if (entry === undefined) return undefined;
      if (nowSeconds >= entry.expiresAt) {
        entries.delete(token);
        return undefined;
      }
      return entry.value;
    },
    set(token, value, expiresAtSeconds) {
      if (maxEntries <= 0) return;
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done !== true) entries.delete(oldest.value);
      }
      entries.set(token, { value, expiresAt: expiresAtSeconds });
    },
    clear: () => entries.clear(),
    get size() {
      return entries.size;
    },
  };
}
