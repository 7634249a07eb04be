/**
 * What the client needs of the browser to refresh once across the tabs of an origin, typed
 * structurally so the package compiles (and runs) without the DOM library: Node and old browsers
 * simply have none of it, and the client then keeps its single flight within the process.
 */

export interface LockManagerLike {
  request<T>(name: string, options: { readonly signal?: AbortSignal; readonly steal?: boolean }, callback: () => Promise<T>): Promise<T>;
}

export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  close(): void;
}

interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

interface BrowserGlobals {
  readonly navigator?: { readonly locks?: LockManagerLike };
  readonly BroadcastChannel?: new (name: string) => ChannelLike;
  readonly localStorage?: StorageLike;
  readonly document?: {
    readonly visibilityState?: string;
    addEventListener?(type: 'visibilitychange', listener: () => void): void;
    removeEventListener?(type: 'visibilitychange', listener: () => void): void;
  };
}

const browser = globalThis as unknown as BrowserGlobals;

/** Web Locks, when this runtime has them. */
export function webLocks(): LockManagerLike | undefined {
  return browser.navigator?.locks;
}

export function openChannel(name: string): ChannelLike | undefined {
  return browser.BroadcastChannel === undefined ? undefined : new browser.BroadcastChannel(name);
}

/** Whether the page is hidden (a background tab): proactive refresh waits until it is shown. */
export function pageHidden(): boolean {
  return browser.document?.visibilityState === 'hidden';
}

/** Calls `listener` when the page is shown again; returns the unsubscribe. */
export function onPageShown(listener: () => void): () => void {
  const doc = browser.document;
  if (doc?.addEventListener === undefined) return () => undefined;
  const handler = () => {
    if (!pageHidden()) listener();
  };
  doc.addEventListener('visibilitychange', handler);
  return () => doc.removeEventListener?.('visibilitychange', handler);
}

/**
 * The latest refresh of any tab, by its id and when its access token expires: never a token.
 * Read inside the lock, it tells a tab that lost the race that a new access token exists (and is
 * on its way over the BroadcastChannel, whose delivery is not ordered with the lock's release), so
 * it waits for that instead of spending the refresh token a second time.
 */
export interface RefreshMark {
  readonly id: string;
  readonly expiresAt: number;
}

export function readMark(key: string): RefreshMark | undefined {
  try {
    const raw = browser.localStorage?.getItem(key);
    if (raw === null || raw === undefined) return undefined;
    const parsed = JSON.parse(raw) as Partial<RefreshMark>;
    return typeof parsed.id === 'string' && typeof parsed.expiresAt === 'number' ? { id: parsed.id, expiresAt: parsed.expiresAt } : undefined;
  } catch {
    // Storage refused (sandboxed frame, privacy mode) or a damaged value: no mark.
    return undefined;
  }
}

export function writeMark(key: string, mark: RefreshMark | undefined): void {
  try {
    if (mark === undefined) browser.localStorage?.removeItem(key);
    else browser.localStorage?.setItem(key, JSON.stringify(mark));
  } catch {
    // Without storage the handoff still works; a lost race may then cost one extra rotation.
  }
}

/** Whether a lock request failed while waiting (its timeout), not while running. */
export function isLockWaitTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}
