/**
 * What the client needs of the browser to refresh once across the tabs of an origin, typed
 * structurally so the package compiles (and runs) without the DOM library: Node and old browsers
 * simply have none of it, and the client then keeps its single flight within the process.
 */

export interface LockManagerLike {
  /** `lock` is null only with `ifAvailable` when another holds it. */
  request<T>(
    name: string,
    options: { readonly signal?: AbortSignal; readonly steal?: boolean; readonly ifAvailable?: boolean; readonly mode?: 'exclusive' | 'shared' },
    callback: (lock: unknown) => Promise<T>,
  ): Promise<T>;
  query(): Promise<{ readonly held?: readonly { readonly name?: string; readonly clientId?: string }[] }>;
}

export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  close(): void;
}

interface BrowserGlobals {
  readonly navigator?: { readonly locks?: LockManagerLike };
  readonly BroadcastChannel?: new (name: string) => ChannelLike;
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
 * The latest access token any tab holds, by the id of the refresh (or sign-in) that issued it and
 * when it expires: never the token itself. Each tab holding a token holds a shared Web Lock named
 * by it, so the lock manager (which orders lock grants, unlike BroadcastChannel messages or
 * localStorage, whose copies in other tabs lag) tells a tab that lost the race, inside the refresh
 * lock, that a newer token exists and whether any tab still holds it.
 */
export interface TokenMark {
  readonly id: string;
  readonly expiresAt: number;
}

export const markLockName = (prefix: string, mark: TokenMark): string => `${prefix}${mark.expiresAt}:${mark.id}`;

/** The newest mark among the held locks, if any. */
export async function newestMark(locks: LockManagerLike, prefix: string): Promise<TokenMark | undefined> {
  const snapshot = await locks.query();
  let newest: TokenMark | undefined;
  for (const held of snapshot.held ?? []) {
    const name = held.name ?? '';
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    const colon = rest.indexOf(':');
    const expiresAt = Number(rest.slice(0, colon));
    if (colon > 0 && Number.isFinite(expiresAt) && (newest === undefined || expiresAt > newest.expiresAt)) newest = { id: rest.slice(colon + 1), expiresAt };
  }
  return newest;
}

/** Which tab (its Web Locks client id) holds the lock `name`; undefined when it is free. */
export async function holderOf(locks: LockManagerLike, name: string): Promise<string | undefined> {
  return (await locks.query()).held?.find((lock) => lock.name === name)?.clientId;
}

/** Whether a lock request failed while waiting (its timeout), not while running. */
export function isLockWaitTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
}
