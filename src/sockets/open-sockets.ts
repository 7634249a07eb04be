import { InvalidTokenError } from '../errors/errors.js';
import type { TicketPrincipal } from '../guard/principal.js';
import { apiKeyRevocationId } from '@gatehouse/verify/internal';
import type { RevocationEntry } from '../revocation/revocation-entry.js';
import type { Revocations } from '../revocation/revocations.js';
import { ticketRevocationClaims } from './ws-tickets.js';

/**
 * The close codes Gatehouse's sockets use (RFC 6455 §7.4; 4000–4999 are the application's own).
 * Documented in the README ("WebSockets"); a client tells "get a new ticket and come back" (4401)
 * from "do not send that again" (1008).
 */
export const CLOSE_CODES = Object.freeze({
  /** The credential behind the socket ended: session revoked or expired, user's tokens revoked, token revoked. Get a new ticket. */
  credentialEnded: 4401,
  /** A message the per-message authorization refused, when the route closes on a refusal. */
  policyViolation: 1008,
  /** The route's own handler failed. */
  internalError: 1011,
});

/** What the registry needs of an open socket: whom it serves, and how to end it. */
export interface WatchedSocket {
  readonly principal: TicketPrincipal;
  close(code: number, reason: string): void;
}

export interface OpenSocketsDeps {
  readonly revocations: Pick<Revocations, 'watchEntries' | 'assertNotRevoked'>;
  /** Epoch ms. */
  readonly now: () => number;
  /** How often each socket's expiry and revocation are checked besides the feed (default 500 ms: a close within 1 s). */
  readonly checkIntervalMs?: number;
}

export interface OpenSockets {
  /** Watches `socket` until the returned function is called (on its close); ends it at once if already dead. */
  add(socket: WatchedSocket): () => void;
  readonly size: number;
  /** Stops watching; open sockets are left to their server's shutdown. */
  close(): void;
}

/** Indexes a socket under a key (lower case: the revocation entries are). */
class Index {
  readonly #sets = new Map<string, Set<WatchedSocket>>();
  add(key: string | undefined, socket: WatchedSocket): void {
    if (key === undefined) return;
    const k = key.toLowerCase();
    const set = this.#sets.get(k) ?? new Set();
    this.#sets.set(k, set);
    set.add(socket);
  }
  delete(key: string | undefined, socket: WatchedSocket): void {
    if (key === undefined) return;
    const k = key.toLowerCase();
    const set = this.#sets.get(k);
    set?.delete(socket);
    if (set?.size === 0) this.#sets.delete(k);
  }
  get(key: string): readonly WatchedSocket[] {
    return [...(this.#sets.get(key.toLowerCase()) ?? [])];
  }
}

/**
 * Open sockets follow revocation: a WebSocket outlives the request that opened it, so the guard's
 * per-request check cannot end it. Every revocation this instance learns (its own, the feed's from
 * any other instance, a resync's) closes the sockets it touches at once — a session's, a user's
 * below the new token version (logout-all, password change, a role or tenant membership taken
 * away, disabled, locked), a revoked token's — and a periodic check closes those whose session
 * has expired (and re-asks the revocation list, in case an entry arrived before the socket was
 * watched). Each closes with {@link CLOSE_CODES.credentialEnded} and a short reason.
 */
export function createOpenSockets(deps: OpenSocketsDeps): OpenSockets {
  const all = new Set<WatchedSocket>();
  const bySession = new Index();
  const byUser = new Index();
  const byToken = new Index();
  // A client-credentials token's socket dies with the API key: its entry travels as a token's.
  const tokenKeyOf = (p: TicketPrincipal): string | undefined => (p.apiKeyId === undefined ? undefined : apiKeyRevocationId(p.apiKeyId));
  const byKey = new Index();
  const intervalMs = deps.checkIntervalMs ?? 500;
  let timer: NodeJS.Timeout | undefined;

  const end = (socket: WatchedSocket, reason: string): void => {
    forget(socket);
    socket.close(CLOSE_CODES.credentialEnded, reason);
  };

  const forget = (socket: WatchedSocket): void => {
    if (!all.delete(socket)) return;
    bySession.delete(socket.principal.sessionId, socket);
    byUser.delete(socket.principal.subject, socket);
    byToken.delete(socket.principal.tokenId, socket);
    byKey.delete(tokenKeyOf(socket.principal), socket);
    if (all.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };

  /** Why the socket must end now, or undefined. The revocation state not being current keeps it: the catch-up will tell. */
  const deathOf = (socket: WatchedSocket, now: number): string | undefined => {
    const p = socket.principal;
    if (p.expiresAt !== undefined && p.expiresAt * 1000 <= now) return 'session expired';
    try {
      deps.revocations.assertNotRevoked(ticketRevocationClaims(p));
    } catch (error) {
      if (error instanceof InvalidTokenError) return 'credential revoked';
    }
    return undefined;
  };

  const check = (): void => {
    const now = deps.now();
    for (const socket of [...all]) {
      const reason = deathOf(socket, now);
      if (reason !== undefined) end(socket, reason);
    }
  };

  const onEntry = (entry: RevocationEntry): void => {
    if (entry.kind === 'session') for (const socket of bySession.get(entry.id)) end(socket, 'session ended');
    else if (entry.kind === 'user') {
      for (const socket of byUser.get(entry.id)) if (socket.principal.tokenVersion < entry.version) end(socket, 'credentials revoked');
    } else if (entry.kind === 'token') {
      for (const socket of byToken.get(entry.id)) end(socket, 'token revoked');
      for (const socket of byKey.get(entry.id)) end(socket, 'api key revoked');
    }
  };
  const unwatch = deps.revocations.watchEntries(onEntry);

  return {
    add(socket) {
      const reason = deathOf(socket, deps.now());
      if (reason !== undefined) {
        socket.close(CLOSE_CODES.credentialEnded, reason);
        return () => undefined;
      }
      all.add(socket);
      bySession.add(socket.principal.sessionId, socket);
      byUser.add(socket.principal.subject, socket);
      byToken.add(socket.principal.tokenId, socket);
      byKey.add(tokenKeyOf(socket.principal), socket);
      if (timer === undefined) {
        timer = setInterval(check, intervalMs);
        // The sockets keep the process alive, not their watch.
        timer.unref();
      }
      return () => forget(socket);
    },
    get size() {
      return all.size;
    },
    close() {
      unwatch();
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
