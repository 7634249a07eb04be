import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ForbiddenError, InvalidTokenError } from '../errors/errors.js';
import { principalUserOf, type BearerPrincipal, type SessionPrincipal, type TicketPrincipal } from '../guard/principal.js';
import type { RevocableClaims } from '../revocation/revocation-entry.js';
import type { Revocations } from '../revocation/revocations.js';
import type { SessionStore } from '../sessions/session-store.js';
import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';
import type { UserStore } from '../users/user-store.js';

/** What a ticket starts with, so secret scanners and logs' reviewers can recognise one. */
export const TICKET_PREFIX = 'ghw_';
/** A ticket lives this long at most (the issue: "valid for 30-60 seconds, single use"). */
export const TICKET_LIFETIME_MS = 30_000;
/** 32 random bytes: 256 bits, well beyond the 128 a guess must face. */
const TICKET_BYTES = 32;
const TICKET_SHAPE = /^ghw_[A-Za-z0-9_-]{43}$/;
/** Below this a ticket is no use to anyone: the caller refreshes its credential first. */
const MIN_LIFETIME_MS = 1_000;

/**
 * What a ticket stands for, stored (under the ticket's digest) in the ephemeral store. The socket's
 * principal is rebuilt from it at redeem, after the account is checked as it is then.
 */
const bindingSchema = z
  .object({
    userId: z.string(),
    sessionId: z.string().optional(),
    tenantId: z.string().optional(),
    scopes: z.array(z.string()),
    roles: z.array(z.string()),
    clientId: z.string(),
    tokenVersion: z.number().int(),
    tokenId: z.string().optional(),
    apiKeyId: z.string().optional(),
    via: z.enum(['bearer', 'session']),
    origin: z.string(),
    /** The ticket's own expiry, epoch ms. */
    expiresAt: z.number(),
    /** The session's absolute expiry, epoch ms, when bound to a session. */
    sessionExpiresAt: z.number().optional(),
  })
  .strict();

export type TicketBinding = z.infer<typeof bindingSchema>;

export interface IssuedTicket {
  /** `ghw_` + 256 random bits, base64url. Shown to the caller once; only its digest is stored. */
  readonly ticket: string;
  /** Whole seconds (≤ 30): the shortest of the ticket lifetime, the token's and the session's. */
  readonly expiresIn: number;
}

export interface WsTickets {
  /**
   * A single-use ticket bound to the caller (user, session, tenant, scopes) and to `origin`, the
   * trusted `Origin` of the request asking for it; the HTTP layer checks that trust. Throws
   * InvalidTokenError when the caller's session has ended or its credential expires within a second.
   */
  issue(principal: BearerPrincipal | SessionPrincipal, origin: string): Promise<IssuedTicket>;
  /**
   * Spends the ticket (atomically: of any number of racing redeemers, on any instance, one wins)
   * and returns the principal it binds, after checking, in order: it is a live ticket
   * (InvalidTokenError), `origin` is the one it was bound to (ForbiddenError; the ticket is spent
   * all the same), and the account still stands as the guard would check a token: not revoked
   * (session, user, token), the user exists, is enabled and unlocked, its token version has not
   * moved on, the session has not expired (InvalidTokenError). StoreUnavailableError when the
   * store or the revocation state cannot answer.
   */
  redeem(ticket: string, origin: string | undefined): Promise<TicketPrincipal>;
}

export interface WsTicketDeps {
  readonly store: Pick<EphemeralStore, 'set' | 'take'>;
  readonly revocations: Pick<Revocations, 'assertNotRevoked'>;
  readonly users: Pick<UserStore, 'findById'>;
  /** A bearer token's session, for its absolute expiry (a cookie session's principal carries it). */
  readonly sessions: Pick<SessionStore, 'find'>;
  /** Epoch ms. */
  readonly now: () => number;
}

/** The store key: a digest, so a dump of the store holds no ticket that could be redeemed. */
function keyOf(ticket: string): string {
  return `ws-ticket:${createHash('sha256').update(ticket, 'utf8').digest('base64url')}`;
}

function parseBinding(value: string): TicketBinding {
  try {
    return bindingSchema.parse(JSON.parse(value));
  } catch (error) {
    throw new InvalidTokenError('ticket binding unreadable', error);
  }
}

/**
 * WebSocket tickets: a browser cannot set an Authorization header on a WebSocket, and a cookie on
 * the upgrade is what cross-site WebSocket hijacking rides on, so the socket presents a single-use,
 * short-lived ticket in `?ticket=`, obtained with a real credential just before.
 *
 * @example
 * const { ticket } = await tickets.issue(principal, 'https://app.example.com');
 * const socketPrincipal = await tickets.redeem(ticket, 'https://app.example.com'); // once only
 */
export function createWsTickets(deps: WsTicketDeps): WsTickets {
  const sessionExpiry = async (principal: BearerPrincipal | SessionPrincipal): Promise<number | undefined> => {
    if (principal.via === 'session') return principal.expiresAt * 1000;
    if (principal.sessionId === undefined) return undefined;
    const session = await deps.sessions.find(principal.sessionId);
    if (session === undefined || session.revokedAt !== null) throw new InvalidTokenError('the session of the token has ended');
    return session.expiresAt.getTime();
  };

  return {
    async issue(principal, origin) {
      const now = deps.now();
      const sessionExpiresAt = await sessionExpiry(principal);
      const tokenExpiresAt = principal.via === 'bearer' ? principal.expiresAt * 1000 : undefined;
      const ttlMs = Math.floor(Math.min(TICKET_LIFETIME_MS, (tokenExpiresAt ?? Infinity) - now, (sessionExpiresAt ?? Infinity) - now));
      if (ttlMs < MIN_LIFETIME_MS) throw new InvalidTokenError('the credential expires too soon to back a ticket');
      const binding: TicketBinding = {
        userId: principal.subject,
        ...(principal.sessionId === undefined ? {} : { sessionId: principal.sessionId }),
        ...(principal.tenantId === undefined ? {} : { tenantId: principal.tenantId }),
        scopes: [...principal.scopes],
        roles: [...principal.roles],
        clientId: principal.clientId,
        tokenVersion: principal.tokenVersion,
        ...(principal.via === 'bearer' ? { tokenId: principal.tokenId, ...(principal.apiKeyId === undefined ? {} : { apiKeyId: principal.apiKeyId }) } : {}),
        via: principal.via,
        origin,
        expiresAt: now + ttlMs,
        ...(sessionExpiresAt === undefined ? {} : { sessionExpiresAt }),
      };
      const ticket = TICKET_PREFIX + randomBytes(TICKET_BYTES).toString('base64url');
      await deps.store.set(keyOf(ticket), JSON.stringify(binding), ttlMs);
      return { ticket, expiresIn: Math.floor(ttlMs / 1000) };
    },

    async redeem(ticket, origin) {
      // Anything else never reaches the store: no key of our making looks like it.
      if (!TICKET_SHAPE.test(ticket)) throw new InvalidTokenError('not a ticket');
      const value = await deps.store.take(keyOf(ticket));
      if (value === undefined) throw new InvalidTokenError('unknown, spent or expired ticket');
      const binding = parseBinding(value);
      const now = deps.now();
      if (binding.expiresAt <= now) throw new InvalidTokenError('ticket expired');
      // Cross-site WebSocket hijacking: a page elsewhere must not open a socket with this ticket.
      if (origin !== binding.origin) throw new ForbiddenError('ticket bound to another origin');
      // As the guard checks a token (guard/authenticator.ts): the account as it stands now.
      deps.revocations.assertNotRevoked(ticketRevocationClaims({ ...binding, subject: binding.userId }));
      const user = await deps.users.findById(binding.userId);
      if (user === undefined) throw new InvalidTokenError('subject no longer exists');
      if (user.disabledAt !== null) throw new InvalidTokenError('subject is disabled');
      if (user.lockedAt !== null) throw new InvalidTokenError('subject is locked');
      if (binding.tokenVersion < user.tokenVersion) throw new InvalidTokenError('token version revoked');
      if (binding.sessionExpiresAt !== undefined && binding.sessionExpiresAt <= now) throw new InvalidTokenError('session expired');
      return Object.freeze({
        via: 'ticket',
        ticketFrom: binding.via,
        origin: binding.origin,
        subject: binding.userId,
        scopes: new Set(binding.scopes),
        roles: Object.freeze([...binding.roles]),
        ...(binding.tenantId === undefined ? {} : { tenantId: binding.tenantId }),
        ...(binding.sessionId === undefined ? {} : { sessionId: binding.sessionId }),
        clientId: binding.clientId,
        tokenVersion: binding.tokenVersion,
        ...(binding.tokenId === undefined ? {} : { tokenId: binding.tokenId }),
        ...(binding.apiKeyId === undefined ? {} : { apiKeyId: binding.apiKeyId }),
        ...(binding.sessionExpiresAt === undefined ? {} : { expiresAt: Math.floor(binding.sessionExpiresAt / 1000) }),
        user: principalUserOf(user),
      });
    },
  };
}

/**
 * What a ticket's socket dies of, as the revocation list matches it: the token that asked for the
 * ticket, its session, the user's token version, the API key of a client-credentials token.
 */
export function ticketRevocationClaims(t: {
  readonly subject: string;
  readonly tokenVersion: number;
  readonly tokenId?: string | undefined;
  readonly sessionId?: string | undefined;
  readonly apiKeyId?: string | undefined;
}): RevocableClaims {
  return {
    // A cookie session's ticket has no token of its own; no access-token jti looks like this.
    jti: t.tokenId ?? `ws-ticket:${t.sessionId ?? t.subject}`,
    sub: t.subject,
    tver: t.tokenVersion,
    ...(t.sessionId === undefined ? {} : { sid: t.sessionId }),
    ...(t.apiKeyId === undefined ? {} : { akid: t.apiKeyId }),
  };
}
