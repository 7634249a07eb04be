import type { Me, PasswordChangeRequest, Session, SignInRequest, TokenResponse } from './api-types.js';
import { GatehouseClientError } from './errors.js';
import {
  holderOf,
  isLockWaitTimeout,
  markLockName,
  newestMark,
  onPageShown,
  openChannel,
  pageHidden,
  webLocks,
  type ChannelLike,
  type LockManagerLike,
} from './tab-coordination.js';

export interface GatehouseClientOptions {
  /** Where Gatehouse answers, e.g. `https://auth.example.com` (with the mount prefix, if any). */
  readonly baseUrl: string;
  /** The OAuth client this app is (`client_id`); the server's default client when absent. */
  readonly clientId?: string;
  /**
   * The client is registered with `refreshTokenCookie: true`: the refresh token lives in an
   * HttpOnly cookie the page cannot read, and the client never sees it. Browsers only.
   */
  readonly refreshTokenCookie?: boolean;
  /** The fetch to use (default: the global one). */
  readonly fetch?: typeof fetch;
  /** How long a tab waits for another tab's refresh before it steals the lock (default 10 s). */
  readonly lockTimeoutMs?: number;
  /** How long a tab that lost the race waits for the winner's access token (default 2 s). */
  readonly handoffTimeoutMs?: number;
  /** Refresh shortly before the access token expires (default true; paused in hidden tabs). */
  readonly proactiveRefresh?: boolean;
  /** How long before expiry the proactive refresh runs (default 60 s; never sooner than 1 s after the last). */
  readonly refreshAheadMs?: number;
  /** Random spread added before that, so tabs and clients do not refresh in step (default 10 s). */
  readonly refreshJitterMs?: number;
  /**
   * Coordinate with the other tabs of the origin (Web Locks + BroadcastChannel). Default: in
   * cookie mode when Web Locks exist. Off: single flight within this client only.
   */
  readonly crossTab?: boolean;
}

export type ClientEvent = 'signed-in' | 'refreshed' | 'signed-out';

type Listener = () => void;

/** What is held for a signed-in user: in memory only, never in storage. */
interface Tokens {
  readonly accessToken: string;
  /** Epoch ms, by this client's clock. */
  readonly expiresAt: number;
  /** Body mode only; in cookie mode the browser holds it where no script can read it. */
  readonly refreshToken: string | undefined;
  /** Names the refresh (or sign-in) that issued the access token, across tabs. */
  readonly mark: string;
}

type ChannelMessage =
  | { readonly type: 'tokens'; readonly mark: string; readonly accessToken: string; readonly expiresAt: number }
  | { readonly type: 'want'; readonly mark: string }
  | { readonly type: 'signed-out' };

/** An access token this close to expiry is treated as expired (clock skew, the request's flight). */
const EXPIRY_SKEW_MS = 5_000;

const MIN_PROACTIVE_DELAY_MS = 1_000;
/** Lock timeouts in a row (each electing one stealer) before a refresh gives up. */
const MAX_LOCK_ROUNDS = 4;

const randomId = (): string => globalThis.crypto.randomUUID();

/**
 * A Gatehouse client for browsers and Node: sign-in and sign-out, `me`, sessions, password change,
 * and {@link GatehouseClient.fetch}, which attaches the access token and refreshes it.
 *
 * Refreshing is single-flight: one refresh at a time per client and, in browsers, per origin
 * (Web Locks, with a timeout after which a tab that died holding the lock is stolen from). The
 * winner hands the new access token to the other tabs over a BroadcastChannel; a tab that lost
 * the race takes that token and never spends the refresh token again. A 401 leads to at most one
 * refresh; the answer after it, a 401 included, is the API's and is returned as is. A refresh that
 * fails ends in one `signed-out` event, never a loop.
 */
export class GatehouseClient {
  readonly #base: string;
  readonly #clientId: string | undefined;
  readonly #cookieMode: boolean;
  readonly #fetch: typeof fetch;
  readonly #lockTimeoutMs: number;
  readonly #handoffTimeoutMs: number;
  readonly #proactive: boolean;
  readonly #aheadMs: number;
  readonly #jitterMs: number;
  readonly #locks: LockManagerLike | undefined;
  readonly #channel: ChannelLike | undefined;
  readonly #names: { readonly lock: string; readonly steal: string; readonly mark: string };
  readonly #listeners = new Map<ClientEvent, Set<Listener>>();
  readonly #handoffWaiters = new Set<(tokens: Tokens) => void>();
  readonly #stopWatchingVisibility: () => void;
  #tokens: Tokens | undefined;
  #state: 'unknown' | 'signed-in' | 'signed-out' = 'unknown';
  #inflight: Promise<string | undefined> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dueWhileHidden = false;
  /** Lets go of the shared lock that names this tab's token. */
  #releaseMark: (() => void) | undefined;

  constructor(options: GatehouseClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, '');
    this.#clientId = options.clientId;
    this.#cookieMode = options.refreshTokenCookie === true;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
    this.#handoffTimeoutMs = options.handoffTimeoutMs ?? 2_000;
    this.#proactive = options.proactiveRefresh ?? true;
    this.#aheadMs = options.refreshAheadMs ?? 60_000;
    this.#jitterMs = options.refreshJitterMs ?? 10_000;
    const scope = `gatehouse-client:${this.#clientId ?? 'default'}`;
    this.#names = { lock: `${scope}:refresh`, steal: `${scope}:steal`, mark: `${scope}:token:` };
    // Only cookie mode shares a refresh token between tabs: in body mode each tab has its own session.
    const crossTab = options.crossTab ?? (this.#cookieMode && webLocks() !== undefined);
    this.#locks = crossTab ? webLocks() : undefined;
    this.#channel = crossTab ? openChannel(scope) : undefined;
    this.#channel?.addEventListener('message', (event) => this.#onMessage(event.data as ChannelMessage));
    this.#stopWatchingVisibility = onPageShown(() => this.#onShown());
  }

  /** Subscribes to an event; returns the unsubscribe. */
  on(event: ClientEvent, listener: Listener): () => void {
    const set = this.#listeners.get(event) ?? new Set<Listener>();
    set.add(listener);
    this.#listeners.set(event, set);
    return () => set.delete(listener);
  }

  /** Whether an access token is held (it may have expired; `fetch` refreshes it). */
  get signedIn(): boolean {
    return this.#tokens !== undefined;
  }

  async signIn(credentials: Omit<SignInRequest, 'client_id'>): Promise<void> {
    const body: SignInRequest = { ...credentials, ...(this.#clientId === undefined ? {} : { client_id: this.#clientId }) };
    const response = await this.#post('/auth/login', body);
    if (!response.ok) throw await GatehouseClientError.from(response);
    await this.#adopt(await this.#tokensFrom(response), 'signed-in');
  }

  /** Ends the session on the server (clearing the refresh cookie), then here and in every tab. */
  async signOut(): Promise<void> {
    const token = this.#tokens?.accessToken;
    try {
      if (token !== undefined) {
        const response = await this.#send(`${this.#base}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        await response.body?.cancel();
      }
    } finally {
      this.#channel?.postMessage({ type: 'signed-out' } satisfies ChannelMessage);
      this.#signedOut();
    }
  }

  /**
   * A new access token now (single-flight): the one another tab or call has just obtained, or
   * from a refresh. Undefined once signed out (the `signed-out` event has then fired).
   */
  refresh(): Promise<string | undefined> {
    return this.#refresh(undefined);
  }

  /**
   * `fetch` with the access token attached. An expired token is refreshed first; a 401 leads to
   * one refresh and one retry, whose answer is returned whatever it is. A streamed body cannot be
   * sent twice: its 401 is returned as is.
   */
  async fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const token = await this.#usableToken();
    const first = await this.#authorized(input, init, token);
    const retryable = !(init?.body instanceof ReadableStream) && !(input instanceof Request && input.bodyUsed);
    if (first.status !== 401 || token === undefined || !retryable) return first;
    const fresh = await this.#refresh(token);
    if (fresh === undefined) return first;
    await first.body?.cancel();
    return this.#authorized(input, init, fresh);
  }

  async me(): Promise<Me> {
    return this.#json<Me>(await this.fetch(`${this.#base}/me`));
  }

  async sessions(): Promise<Session[]> {
    return this.#json<Session[]>(await this.fetch(`${this.#base}/me/sessions`));
  }

  /** The other sessions end; this one stays signed in. */
  async changePassword(change: PasswordChangeRequest): Promise<void> {
    const response = await this.fetch(`${this.#base}/me/password`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(change),
    });
    if (!response.ok) throw await GatehouseClientError.from(response);
    await response.body?.cancel();
  }

  /** Stops timers and listeners (the tokens stay until the page goes). */
  close(): void {
    clearTimeout(this.#timer);
    this.#releaseMark?.();
    this.#stopWatchingVisibility();
    this.#channel?.close();
  }

  async #json<T>(response: Response): Promise<T> {
    if (!response.ok) throw await GatehouseClientError.from(response);
    return (await response.json()) as T;
  }

  #authorized(input: string | URL | Request, init: RequestInit | undefined, token: string | undefined): Promise<Response> {
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    // A Request's body is read once: each attempt sends a copy.
    return this.#fetch(input instanceof Request ? input.clone() : input, { ...init, headers });
  }

  /** The held token while it is valid; else a refreshed one (cookie mode: also for a tab that has none yet). */
  async #usableToken(): Promise<string | undefined> {
    const held = this.#tokens;
    if (held !== undefined && held.expiresAt - Date.now() > EXPIRY_SKEW_MS) return held.accessToken;
    if (held === undefined && (!this.#cookieMode || this.#state === 'signed-out')) return undefined;
    return this.#refresh(held?.accessToken);
  }

  /** `stale`: the token found wanting; a different valid one held by now is the answer. */
  #refresh(stale: string | undefined): Promise<string | undefined> {
    this.#inflight ??= this.#coordinatedRefresh(stale).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  #newerThan(stale: string | undefined): string | undefined {
    const held = this.#tokens;
    if (stale === undefined || held === undefined || held.accessToken === stale) return undefined;
    return held.expiresAt - Date.now() > EXPIRY_SKEW_MS ? held.accessToken : undefined;
  }

  async #coordinatedRefresh(stale: string | undefined): Promise<string | undefined> {
    const newer = this.#newerThan(stale);
    if (newer !== undefined) return newer;
    const locks = this.#locks;
    if (locks === undefined) return this.#spend();
    let running: Promise<string | undefined> | undefined;
    const underLock = () => (running ??= this.#refreshUnderLock(stale));
    for (let round = 0; round < MAX_LOCK_ROUNDS; round++) {
      const holder = await holderOf(locks, this.#names.lock);
      try {
        return await locks.request(this.#names.lock, { signal: AbortSignal.timeout(this.#lockTimeoutMs) }, underLock);
      } catch (error) {
        // Stolen from while running: the work goes on without the lock.
        if (running !== undefined) return running;
        if (!isLockWaitTimeout(error)) throw error;
      }
      // A whole timeout without the lock. Stolen only if one tab held it all along (it hung or died
      // holding it), and by one waiting tab (the one that gets the steal lock): stealing from a tab
      // that has just got it, or two tabs stealing in turn, would spend the refresh token twice.
      const stolen = await locks.request(this.#names.steal, { ifAvailable: true }, async (lock) => {
        if (lock === null || holder === undefined || (await holderOf(locks, this.#names.lock)) !== holder) return undefined;
        return { token: await locks.request(this.#names.lock, { steal: true }, underLock) };
      });
      if (stolen !== undefined) return stolen.token;
    }
    throw new Error(`the refresh lock stayed held through ${MAX_LOCK_ROUNDS} timeouts`);
  }

  async #refreshUnderLock(stale: string | undefined): Promise<string | undefined> {
    const arrived = this.#newerThan(stale);
    if (arrived !== undefined) return arrived;
    // Another tab refreshed after this one got its token: its access token is on the way.
    const mark = this.#locks === undefined ? undefined : await newestMark(this.#locks, this.#names.mark);
    // The token may have come over the channel while the lock manager answered.
    const meanwhile = this.#newerThan(stale);
    if (meanwhile !== undefined) return meanwhile;
    if (mark !== undefined && mark.id !== this.#tokens?.mark && mark.expiresAt - Date.now() > EXPIRY_SKEW_MS) {
      const handed = await this.#awaitHandoff(mark.id);
      if (handed !== undefined) return handed.accessToken;
    }
    return this.#newerThan(stale) ?? this.#spend();
  }

  #awaitHandoff(mark: string): Promise<Tokens | undefined> {
    return new Promise((resolve) => {
      const waiter = (tokens: Tokens) => {
        if (tokens.mark !== mark) return;
        clearTimeout(timer);
        this.#handoffWaiters.delete(waiter);
        resolve(tokens);
      };
      const timer = setTimeout(() => {
        this.#handoffWaiters.delete(waiter);
        resolve(undefined);
      }, this.#handoffTimeoutMs);
      this.#handoffWaiters.add(waiter);
      // A tab that opened after the refresh asks the tabs holding it.
      this.#channel?.postMessage({ type: 'want', mark } satisfies ChannelMessage);
    });
  }

  /** Spends the refresh token (the one place that does). */
  async #spend(): Promise<string | undefined> {
    const refreshToken = this.#tokens?.refreshToken;
    if (!this.#cookieMode && refreshToken === undefined) {
      this.#signedOut();
      return undefined;
    }
    const body = {
      ...(this.#clientId === undefined ? {} : { client_id: this.#clientId }),
      ...(refreshToken === undefined ? {} : { refresh_token: refreshToken }),
    };
    const response = await this.#post('/auth/refresh', body);
    if (response.status === 400 || response.status === 401) {
      // invalid_grant (spent, revoked, expired), or no cookie: the session is over.
      await response.body?.cancel();
      this.#channel?.postMessage({ type: 'signed-out' } satisfies ChannelMessage);
      this.#signedOut();
      return undefined;
    }
    // Throttled, unavailable, refused as cross-site: not a sign-out; the caller sees the error.
    if (!response.ok) throw await GatehouseClientError.from(response);
    const tokens = await this.#tokensFrom(response);
    await this.#adopt(tokens, 'refreshed');
    return tokens.accessToken;
  }

  async #tokensFrom(response: Response): Promise<Tokens> {
    const body = (await response.json()) as TokenResponse;
    return { accessToken: body.access_token, expiresAt: Date.now() + body.expires_in * 1000, refreshToken: body.refresh_token, mark: randomId() };
  }

  /**
   * New tokens of this tab: held, marked, announced to the other tabs, scheduled for refresh.
   * Marked before the refresh lock is let go, so the next tab under it sees the mark.
   */
  async #adopt(tokens: Tokens, event: 'signed-in' | 'refreshed'): Promise<void> {
    this.#hold(tokens);
    await this.#mark(tokens);
    this.#channel?.postMessage({ type: 'tokens', mark: tokens.mark, accessToken: tokens.accessToken, expiresAt: tokens.expiresAt } satisfies ChannelMessage);
    this.#emit(event);
  }

  #hold(tokens: Tokens): void {
    this.#tokens = tokens;
    this.#state = 'signed-in';
    this.#schedule();
  }

  /** Holds the shared lock named by the token (releasing the previous one); resolves once it is held. */
  #mark(tokens: Tokens): Promise<void> {
    this.#releaseMark?.();
    this.#releaseMark = undefined;
    const locks = this.#locks;
    if (locks === undefined) return Promise.resolve();
    return new Promise((granted) => {
      locks
        .request(markLockName(this.#names.mark, { id: tokens.mark, expiresAt: tokens.expiresAt }), { mode: 'shared' }, () => {
          granted();
          return new Promise<void>((release) => {
            // Replaced already while the lock was being granted: let go at once.
            if (this.#tokens?.mark !== tokens.mark) release();
            else this.#releaseMark = release;
          });
        })
        .catch(() => granted());
    });
  }

  #onMessage(message: ChannelMessage): void {
    if (message.type === 'signed-out') {
      this.#signedOut();
    } else if (message.type === 'want') {
      const held = this.#tokens;
      if (held?.mark === message.mark && held.expiresAt - Date.now() > EXPIRY_SKEW_MS) {
        this.#channel?.postMessage({ type: 'tokens', mark: held.mark, accessToken: held.accessToken, expiresAt: held.expiresAt } satisfies ChannelMessage);
      }
    } else if (message.type === 'tokens') {
      // Cookie mode only shares a refresh token between tabs; in body mode each tab has its own session.
      const wasSignedIn = this.#state === 'signed-in';
      if (this.#cookieMode && this.#tokens?.mark !== message.mark && message.expiresAt > (this.#tokens?.expiresAt ?? 0)) {
        const tokens = { accessToken: message.accessToken, expiresAt: message.expiresAt, refreshToken: undefined, mark: message.mark };
        this.#hold(tokens);
        void this.#mark(tokens);
        this.#emit(wasSignedIn ? 'refreshed' : 'signed-in');
      }
      if (this.#tokens?.mark === message.mark) for (const waiter of [...this.#handoffWaiters]) waiter(this.#tokens);
    }
  }

  #signedOut(): void {
    clearTimeout(this.#timer);
    this.#tokens = undefined;
    this.#releaseMark?.();
    this.#releaseMark = undefined;
    if (this.#state === 'signed-out') return;
    this.#state = 'signed-out';
    this.#emit('signed-out');
  }

  #emit(event: ClientEvent): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        listener();
      } catch {
        // A listener's failure is the app's, not the client's state.
      }
    }
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    this.#dueWhileHidden = false;
    const held = this.#tokens;
    if (!this.#proactive || held === undefined) return;
    const lifetime = held.expiresAt - Date.now();
    // Never sooner than a second: an `ahead` longer than the lifetime must not refresh in a loop.
    const delay = Math.max(MIN_PROACTIVE_DELAY_MS, lifetime - this.#aheadMs - Math.random() * this.#jitterMs);
    this.#timer = setTimeout(() => this.#proactiveRefresh(held.accessToken), delay);
    // Node: a pending refresh must not keep the process alive.
    (this.#timer as { unref?: () => void }).unref?.();
  }

  #proactiveRefresh(due: string): void {
    if (pageHidden()) {
      this.#dueWhileHidden = true;
      return;
    }
    // `due` as the stale token: if another tab refreshed meanwhile, its token is taken instead.
    this.#refresh(due).catch(() => undefined);
  }

  #onShown(): void {
    const held = this.#tokens;
    if (this.#dueWhileHidden && held !== undefined) this.#proactiveRefresh(held.accessToken);
  }

  #post(path: string, body: unknown): Promise<Response> {
    return this.#send(`${this.#base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  /** Gatehouse's own endpoints: in cookie mode the browser must send and store the refresh cookie. */
  #send(url: string, init: RequestInit): Promise<Response> {
    return this.#fetch(url, this.#cookieMode ? { ...init, credentials: 'include' } : init);
  }
}
