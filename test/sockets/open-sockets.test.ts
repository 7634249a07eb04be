import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { InvalidTokenError, StoreUnavailableError } from '../../src/errors/errors.js';
import type { TicketPrincipal } from '../../src/guard/principal.js';
import type { RevocationEntry } from '../../src/revocation/revocation-entry.js';
import { apiKeyRevocationId } from '@gatehouse/verify/internal';
import { CLOSE_CODES, createOpenSockets, type OpenSocketsDeps } from '../../src/sockets/open-sockets.js';

/** The registry over a hand-fed revocation feed, a revocation list as a set of session ids, and a clock. */
/**
 * The periodic check's timer is unref'd (it must never keep a server process alive), so a test that
 * waits on it alone would let the event loop run dry: hold the loop open while waiting.
 */
async function whileAlive<T>(promise: Promise<T>): Promise<T> {
  const keep = setInterval(() => {}, 1_000);
  try {
    return await promise;
  } finally {
    clearInterval(keep);
  }
}

function harness() {
  let t = 1_700_000_000_000;
  let listener: ((entry: RevocationEntry) => void) | undefined;
  const revokedSessions = new Set<string>();
  let current = true;
  const deps: OpenSocketsDeps = {
    revocations: {
      watchEntries(l) {
        listener = l;
        return () => (listener = undefined);
      },
      assertNotRevoked(claims) {
        if (!current) throw new StoreUnavailableError('not current');
        if (claims.sid !== undefined && revokedSessions.has(claims.sid)) throw new InvalidTokenError('session revoked');
      },
    },
    now: () => t,
    checkIntervalMs: 10,
  };
  const sockets = createOpenSockets(deps);
  const principal = (overrides: Partial<TicketPrincipal> = {}): TicketPrincipal => ({
    via: 'ticket',
    ticketFrom: 'bearer',
    origin: 'https://app.test',
    subject: randomUUID(),
    scopes: new Set(),
    roles: [],
    sessionId: randomUUID(),
    clientId: 'gatehouse-cli',
    tokenVersion: 0,
    tokenId: randomUUID(),
    expiresAt: Math.floor(t / 1000) + 3600,
    user: { id: 'u', username: 'u', email: null, emailVerified: false, roles: [], createdAt: new Date(0) },
    ...overrides,
  });
  const socket = (p: TicketPrincipal) => {
    const closes: { code: number; reason: string }[] = [];
    let done: () => void = () => undefined;
    const closedOnce = new Promise<void>((resolve) => (done = resolve));
    return {
      principal: p,
      closes,
      closedOnce,
      close(code: number, reason: string) {
        closes.push({ code, reason });
        done();
      },
    };
  };
  return {
    sockets,
    principal,
    socket,
    feed: (entry: RevocationEntry) => listener?.(entry),
    watching: () => listener !== undefined,
    advance: (ms: number) => void (t += ms),
    revokeSession: (id: string) => revokedSessions.add(id),
    stale: () => void (current = false),
  };
}

const until = Date.now() + 60_000;

describe('open sockets follow revocation', () => {
  test('MALICIOUS: a session entry closes the sockets of that session with 4401, not those of another', () => {
    const h = harness();
    const doomed = h.socket(h.principal());
    const kept = h.socket(h.principal({ subject: doomed.principal.subject }));
    h.sockets.add(doomed);
    h.sockets.add(kept);
    h.feed({ kind: 'session', id: doomed.principal.sessionId!, until });
    assert.deepEqual(doomed.closes, [{ code: CLOSE_CODES.credentialEnded, reason: 'session ended' }]);
    assert.deepEqual(kept.closes, []);
    assert.equal(h.sockets.size, 1);
    h.sockets.close();
  });

  test('MALICIOUS: a user entry closes the sockets below its token version only', () => {
    const h = harness();
    const subject = randomUUID();
    const old = h.socket(h.principal({ subject, tokenVersion: 1 }));
    const fresh = h.socket(h.principal({ subject, tokenVersion: 2 }));
    h.sockets.add(old);
    h.sockets.add(fresh);
    h.feed({ kind: 'user', id: subject, version: 2, until });
    assert.equal(old.closes[0]?.code, 4401);
    assert.deepEqual(fresh.closes, [], 'opened after the bump: it stays');
    h.sockets.close();
  });

  test('MALICIOUS: a token entry closes the sockets its token opened', () => {
    const h = harness();
    const s = h.socket(h.principal());
    h.sockets.add(s);
    h.feed({ kind: 'token', id: s.principal.tokenId!, until });
    assert.deepEqual(s.closes, [{ code: 4401, reason: 'token revoked' }]);
    h.sockets.close();
  });

  test("MALICIOUS: an API key's entry closes the sockets its client-credentials tokens opened, not another key's", () => {
    const h = harness();
    const [cut, kept] = [h.socket(h.principal({ apiKeyId: 'keyA1234567890abc' })), h.socket(h.principal({ apiKeyId: 'keyB1234567890abc' }))];
    h.sockets.add(cut);
    h.sockets.add(kept);
    h.feed({ kind: 'token', id: apiKeyRevocationId('keyA1234567890abc'), until });
    assert.deepEqual(cut.closes, [{ code: 4401, reason: 'api key revoked' }]);
    assert.deepEqual(kept.closes, []);
    assert.equal(h.sockets.size, 1);
    h.sockets.close();
  });

  test('MALICIOUS: a socket whose session was revoked before it was watched is closed at once', () => {
    const h = harness();
    const s = h.socket(h.principal());
    h.revokeSession(s.principal.sessionId!);
    h.sockets.add(s);
    assert.equal(s.closes[0]?.code, 4401);
    assert.equal(h.sockets.size, 0);
    h.sockets.close();
  });

  test('the periodic check closes a socket whose session expired', async () => {
    const h = harness();
    const s = h.socket(h.principal());
    h.sockets.add(s);
    h.advance(3_600_000);
    await whileAlive(s.closedOnce);
    assert.deepEqual(s.closes, [{ code: 4401, reason: 'session expired' }]);
    h.sockets.close();
  });

  test('a revocation state that is not current closes nothing by itself (the catch-up will say what to close)', async () => {
    const h = harness();
    const s = h.socket(h.principal());
    h.sockets.add(s);
    h.stale();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(s.closes, []);
    h.sockets.close();
  });

  test('a forgotten (closed) socket is not closed again; close() stops watching', () => {
    const h = harness();
    const s = h.socket(h.principal());
    const forget = h.sockets.add(s);
    forget();
    h.feed({ kind: 'session', id: s.principal.sessionId!, until });
    assert.deepEqual(s.closes, []);
    h.sockets.close();
    assert.equal(h.watching(), false);
  });
});
