import { ForbiddenError, MalformedCredentialError } from '../errors/errors.js';
import type { CredentialScheme, RequestFacts } from '../guard/credential-scheme.js';
import type { TrustedOrigins } from '../guard/trusted-origins.js';
import type { WsTickets } from './ws-tickets.js';

/** RFC 6455 §4.1: an opening handshake carries `Upgrade: websocket` (any case). */
function isWebSocketUpgrade(request: RequestFacts): boolean {
  const upgrade = request.header('upgrade');
  return request.method === 'GET' && upgrade.length === 1 && upgrade[0]!.trim().toLowerCase() === 'websocket';
}

/**
 * `?ticket=ghw_…` on a WebSocket upgrade (see ws-tickets.ts): the one place a credential may sit
 * in a URL, because a browser's WebSocket can send neither a header nor a body. Read only on the
 * routes that accept the scheme (the socket routes), and only on an upgrade: a ticket on a plain
 * request is refused unspent (400). Not ambient: a browser never attaches it by itself, and the
 * cross-site defence is the Origin, checked here against the trusted origins before the ticket is
 * spent, then against the ticket's own origin.
 */
export function ticketScheme(tickets: Pick<WsTickets, 'redeem'>, trusted: TrustedOrigins): CredentialScheme<string> {
  return {
    name: 'ticket',
    ambient: false,
    read(request) {
      const values = new URLSearchParams(request.query).getAll('ticket');
      if (values.length === 0) return undefined;
      if (values.length > 1) throw new MalformedCredentialError('more than one ticket');
      if (!isWebSocketUpgrade(request)) throw new MalformedCredentialError('a ticket opens a WebSocket only');
      return values[0]!;
    },
    async authenticate(ticket, request) {
      const origins = request.header('origin');
      // Cross-site WebSocket hijacking: browsers send the page's Origin on every upgrade.
      if (origins.length !== 1) throw new ForbiddenError(`websocket upgrade with ${origins.length} Origin headers`);
      if (!trusted.has(origins[0]!)) throw new ForbiddenError(`websocket upgrade from an untrusted origin (${origins[0]!.slice(0, 100)})`);
      return tickets.redeem(ticket, origins[0]);
    },
  };
}
