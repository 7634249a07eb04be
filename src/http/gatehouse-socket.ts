import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest, FastifySchema } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { TicketPrincipal } from '../guard/principal.js';
import type { ProtectedRequirement } from '../guard/requirement.js';
import type { GatehouseServices } from '../services.js';
import { CLOSE_CODES, createOpenSockets, type OpenSockets } from '../sockets/open-sockets.js';

/** A frame as received: text frames as strings (UTF-8, validated by `ws`), binary frames as bytes. */
export type SocketMessage = string | Buffer;

/** The per-message decision. Anything but `'allow'` refuses (a hook that returns nothing denies). */
export type MessageDecision = 'allow' | 'deny';

/** One open socket as the host's code sees it. */
export interface SocketConnection {
  /** Who opened it: the principal the ticket was bound to, checked against the account at the upgrade. */
  readonly principal: TicketPrincipal;
  /** The upgrade request's route parameters (validated when the options give `schema.params`). */
  readonly params: unknown;
  send(message: SocketMessage): void;
  close(code?: number, reason?: string): void;
}

export interface GatehouseSocketOptions<M = SocketMessage> {
  /**
   * What opening the socket needs, checked before the upgrade completes (scopes, roles, tenant, a
   * resource policy such as room membership, `fresh`). The credential is always the ticket.
   */
  readonly auth?: Omit<ProtectedRequirement, 'schemes' | 'page'>;
  /** Route schema for the upgrade request's params (its query holds only the ticket). */
  readonly schema?: Pick<FastifySchema, 'params'>;
  /** Turns a frame into the message the hooks see; throwing refuses it like a denial (`ERR_VALIDATION`). */
  readonly parse?: (raw: SocketMessage) => M;
  /**
   * May this message be sent? Asked for every message, in order, before `onMessage`, so "may this
   * connection open?" (`auth`) and "may this message be sent?" are separate decisions.
   */
  readonly authorizeMessage?: (principal: TicketPrincipal, message: M, connection: SocketConnection) => MessageDecision | Promise<MessageDecision>;
  /**
   * What a refused message gets: `'error-frame'` (default), a text frame
   * `{"type":"error","code":"ERR_FORBIDDEN"|"ERR_VALIDATION","message":…}` with the socket left
   * open; or `'close'`, close code 1008 (policy violation).
   */
  readonly denyAction?: 'error-frame' | 'close';
  readonly onOpen?: (connection: SocketConnection, request: FastifyRequest) => void | Promise<void>;
  /** Every message the hooks allowed, in the order received. */
  readonly onMessage: (connection: SocketConnection, message: M) => void | Promise<void>;
  readonly onClose?: (connection: SocketConnection, code: number) => void;
}

/** The mounted Gatehouse's open-socket registry, inherited by every context of the app (a symbol: no host reaches it by name). */
const OPEN_SOCKETS = Symbol('gatehouse.openSockets');

/** Largest frame accepted when gatehouseSocket registers @fastify/websocket itself (ws's own default is 100 MiB). */
const MAX_PAYLOAD_BYTES = 64 * 1024;

/** Called by mountGatehouse: one registry per mounted Gatehouse, closed with the app. */
export function provideOpenSockets(app: FastifyInstance, services: Pick<GatehouseServices, 'revocations' | 'now'>): void {
  const sockets = createOpenSockets({ revocations: services.revocations, now: services.now });
  app.decorate(OPEN_SOCKETS, sockets);
  app.addHook('onClose', (_instance, done) => {
    sockets.close();
    done();
  });
}

const frame = (data: RawData, isBinary: boolean): SocketMessage => {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return isBinary ? bytes : bytes.toString('utf8');
};

/**
 * A WebSocket route guarded by Gatehouse, for a host app (on `@fastify/websocket`, registered
 * here if the app has not already). The client first asks `POST <prefix>/auth/ws-ticket` for a
 * ticket, then opens `wss://…<path>?ticket=ghw_…`. Before the upgrade completes, the guard
 * checks the Origin against the trusted origins (cross-site WebSocket hijacking), spends the
 * ticket (once, on any instance), checks it was issued to this Origin and that the account still
 * stands, then the route's `auth` requirement; any refusal is an HTTP answer (401/403) and no
 * upgrade. Once open, every message passes `authorizeMessage`, and the socket closes with 4401
 * when its session, user or token is revoked on any instance, or its session expires.
 *
 * @example
 * await gatehouseSocket(app, '/rooms/:room', {
 *   auth: { scopes: ['chat:read'], resource: guardResource(roomMember, loadRoom) },
 *   authorizeMessage: (principal) => (principal.scopes.has('chat:send') ? 'allow' : 'deny'),
 *   onMessage: (connection, message) => room.broadcast(message),
 * });
 */
export async function gatehouseSocket<M = SocketMessage>(app: FastifyInstance, path: string, options: GatehouseSocketOptions<M>): Promise<void> {
  const sockets = (app as unknown as Record<symbol, OpenSockets | undefined>)[OPEN_SOCKETS];
  if (sockets === undefined) throw new TypeError('gatehouseSocket needs Gatehouse registered on the app first');
  if (typeof options.onMessage !== 'function') throw new TypeError('gatehouseSocket: onMessage must be a function');
  const denyAction = options.denyAction ?? 'error-frame';
  if (denyAction !== 'error-frame' && denyAction !== 'close') throw new TypeError(`gatehouseSocket: denyAction must be "error-frame" or "close"`);
  if (!app.hasDecorator('websocketServer')) await app.register(websocket, { options: { maxPayload: MAX_PAYLOAD_BYTES } });

  app.get(
    path,
    {
      websocket: true,
      config: { auth: { ...options.auth, schemes: ['ticket'] } },
      ...(options.schema === undefined ? {} : { schema: options.schema }),
    },
    (socket: WebSocket, request: FastifyRequest) => {
      // The guard ran before the upgrade and accepts nothing but a ticket on this route.
      const principal = request.principal as TicketPrincipal;
      const connection: SocketConnection = Object.freeze({
        principal,
        params: request.params,
        send: (message: SocketMessage) => socket.send(message),
        close: (code?: number, reason?: string) => socket.close(code, reason),
      });
      const open = (): boolean => socket.readyState === socket.OPEN;
      const fail = (error: unknown): void => {
        request.log.error({ err: error, event: 'socket.handler_failed' }, 'socket handler failed');
        if (open()) socket.close(CLOSE_CODES.internalError, 'internal error');
      };
      const refuse = (code: 'ERR_FORBIDDEN' | 'ERR_VALIDATION'): void => {
        if (!open()) return;
        if (denyAction === 'close') socket.close(CLOSE_CODES.policyViolation, 'message refused');
        else socket.send(JSON.stringify({ type: 'error', code, message: code === 'ERR_FORBIDDEN' ? 'message refused' : 'malformed message' }));
      };
      const handle = async (raw: SocketMessage): Promise<void> => {
        // A socket closed meanwhile (revoked, refused) handles nothing it had queued.
        if (!open()) return;
        let message: M;
        try {
          message = options.parse === undefined ? (raw as M) : options.parse(raw);
        } catch {
          return refuse('ERR_VALIDATION');
        }
        const decision = options.authorizeMessage === undefined ? 'allow' : await options.authorizeMessage(principal, message, connection);
        if (!open()) return;
        if (decision !== 'allow') return refuse('ERR_FORBIDDEN');
        await options.onMessage(connection, message);
      };

      const forget = sockets.add({ principal, close: (code, reason) => socket.close(code, reason) });
      socket.on('close', (code: number) => {
        forget();
        options.onClose?.(connection, code);
      });
      // Messages are handled one at a time, in order, after onOpen: an async hook cannot reorder them.
      // A socket whose credential died between the redeem and now was closed by `add`: no onOpen.
      let queue: Promise<void> = open()
        ? Promise.resolve()
            .then(() => options.onOpen?.(connection, request))
            .catch(fail)
        : Promise.resolve();
      socket.on('message', (data: RawData, isBinary: boolean) => {
        const raw = frame(data, isBinary);
        queue = queue.then(() => handle(raw)).catch(fail);
      });
    },
  );
}
