import type { Authentication, Principal as TokenPrincipal } from '@gatehouse/verify';
import type { UserRecord } from '../users/user-store.js';
import type { SchemeName } from './scheme-name.js';

export type { SchemeName };

/**
 * The account behind a principal, as a host may see it: no password hash, nor any other secret
 * (TOTP seeds, refresh digests…). A host route that sends the principal whole leaks nothing.
 */
export interface PrincipalUser {
  readonly id: string;
  readonly username: string;
  readonly email: string | null;
  /** Whether `email` was confirmed by a mailed code. */
  readonly emailVerified: boolean;
  /** Global roles, as the record holds them when the principal was built. */
  readonly roles: readonly string[];
  readonly createdAt: Date;
}

/**
 * What every principal holds, whatever credential it came from: authorization (`refusalOf`,
 * policies, `fresh`) reads only these fields, so it decides alike for every scheme.
 */
export interface PrincipalShared {
  /** How the caller authenticated: the credential scheme that produced this principal. */
  readonly via: SchemeName;
  /** The user's UUID. */
  readonly subject: string;
  readonly scopes: ReadonlySet<string>;
  /**
   * Global roles plus those held in the active tenant, as the credential states them. A role
   * revoked since takes effect through the token version; a route with `fresh: true` re-reads them.
   */
  readonly roles: readonly string[];
  /** The active tenant, when the credential is bound to one. */
  readonly tenantId?: string;
  /** The session: what a logout ends. */
  readonly sessionId?: string;
  readonly clientId: string;
  /** The user's token version when the credential was issued (`tver`). */
  readonly tokenVersion: number;
  readonly user: PrincipalUser;
  /**
   * How and when the user proved who he is (`amr`, `auth_time`), for step-up (RFC 9470). Absent
   * when no user authentication stands behind the credential: an API key, a socket ticket.
   */
  readonly authentication?: Authentication;
}

/**
 * A caller with an access token: the SDK's token principal (one definition for the server and
 * every resource server) plus what only the server knows, the account behind it.
 */
export interface BearerPrincipal extends TokenPrincipal, PrincipalShared {
  readonly via: 'bearer';
}

/** A browser with a cookie session (`__Host-gatehouse_session`). */
export interface SessionPrincipal extends PrincipalShared {
  readonly via: 'session';
  readonly sessionId: string;
  /** The session's absolute expiry, seconds since the epoch. */
  readonly expiresAt: number;
}

/**
 * A caller with an API key (`ghk_…`) of its owner: `subject` is the owner, `scopes` what the key
 * names and the owner still holds at this request, `tokenVersion` the owner's now.
 */
export interface ApiKeyPrincipal extends PrincipalShared {
  readonly via: 'api_key';
  readonly keyId: string;
  /**
   * When the key stops working (epoch ms): its expiry, or the end of a rotation's overlap. A
   * client-credentials token granted with the key expires by then.
   */
  readonly keyEndsAt?: number;
  readonly clientId: 'api-key';
}

/**
 * A WebSocket opened with a single-use ticket (src/sockets/ws-tickets.ts): the principal that
 * asked for the ticket, as its binding recorded it, re-checked against the account when redeemed.
 */
export interface TicketPrincipal extends PrincipalShared {
  readonly via: 'ticket';
  /** How the caller that asked for the ticket authenticated. */
  readonly ticketFrom: 'bearer' | 'session';
  /** The Origin the ticket was bound to, which the upgrade presented. */
  readonly origin: string;
  /** The bearer token's `jti`, when a bearer token asked for the ticket (its revocation closes the socket). */
  readonly tokenId?: string;
  /** The API key of the client-credentials token that asked for the ticket (its revocation closes the socket). */
  readonly apiKeyId?: string;
  /** The session's absolute expiry (seconds since the epoch), when bound to a session: the socket closes then. */
  readonly expiresAt?: number;
}

/** Who is calling on a Gatehouse-guarded route; `via` says which scheme authenticated it. */
export type Principal = BearerPrincipal | SessionPrincipal | ApiKeyPrincipal | TicketPrincipal;

/**
 * The fields are listed, never spread from the record: a field added to `UserRecord` later (a
 * secret, say) stays out of every principal until someone decides it belongs here.
 */
export function principalUserOf(user: UserRecord): PrincipalUser {
  return Object.freeze({
    id: user.id,
    username: user.username,
    email: user.email,
    emailVerified: user.emailVerifiedAt !== null,
    roles: Object.freeze([...user.roles]),
    createdAt: user.createdAt,
  });
}
