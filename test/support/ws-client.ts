import type { FastifyInstance } from 'fastify';
import { WebSocket } from 'ws';

/** How an upgrade ended: a socket, or the HTTP answer that refused it. */
export type Upgrade = { readonly kind: 'open'; readonly socket: ClientSocket } | { readonly kind: 'refused'; readonly status: number; readonly body: string };

/** A `ws` client socket with its frames and its close recorded, so tests can wait on them. */
export interface ClientSocket {
  readonly ws: WebSocket;
  readonly received: string[];
  /** Resolves with the close code and reason once the server (or the client) closed it. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the next frame not yet returned by an earlier call. */
  next(): Promise<string>;
}

/** Listens on an ephemeral loopback port (once) and returns the ws:// base URL. */
export async function wsBase(app: FastifyInstance): Promise<string> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `ws://127.0.0.1:${address.port}`;
}

/** Opens a WebSocket with the `ws` client, sending `origin` as a browser would (and `headers`, as no browser can). */
export function openSocket(url: string, origin: string | undefined, headers: Record<string, string> = {}): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, ...(origin === undefined ? {} : { origin }) });
    const received: string[] = [];
    const waiting: ((frame: string) => void)[] = [];
    let read = 0;
    const closed = new Promise<{ code: number; reason: string }>((done) => ws.once('close', (code, reason) => done({ code, reason: reason.toString('utf8') })));
    ws.on('message', (data: Buffer) => {
      received.push(data.toString('utf8'));
      waiting.shift()?.(received[read++]!);
    });
    const next = (): Promise<string> => (read < received.length ? Promise.resolve(received[read++]!) : new Promise<string>((frame) => waiting.push(frame)));
    ws.once('open', () => resolve({ kind: 'open', socket: { ws, received, closed, next } }));
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ kind: 'refused', status: response.statusCode ?? 0, body }));
      response.on('error', () => resolve({ kind: 'refused', status: response.statusCode ?? 0, body }));
      ws.on('error', () => undefined);
    });
    ws.once('error', (error) => {
      if (ws.readyState !== ws.CLOSED) reject(error);
    });
  });
}

/** The socket of an upgrade that must have opened. */
export function opened(upgrade: Upgrade): ClientSocket {
  if (upgrade.kind !== 'open') throw new Error(`upgrade refused: ${upgrade.status} ${upgrade.body}`);
  return upgrade.socket;
}
