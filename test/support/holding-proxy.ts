import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a Redis that can hold Redis's answers back, to pin a client at one point
 * of a reconnect (its INFO ready check, its SUBSCRIBE) that otherwise lasts well under a
 * millisecond. What the client sends always reaches Redis; on a held connection, what Redis sends
 * back (and its close) waits for `release()`, or is lost with `cut()`.
 */
export interface HoldingProxy {
  readonly url: string;
  /** While on, new connections are closed at once (Redis is away); existing ones are left alone. */
  refuseConnections(on: boolean): void;
  /** Holds the answers of the next `count` connections that send a request matching `request`; resolves once they are held. */
  holdAnswersAfter(request: RegExp, count?: number): Promise<void>;
  /** Resolves once any connection sends a request matching `request` (after this call). */
  seen(request: RegExp): Promise<void>;
  /** Delivers everything held (answers, then the close if Redis closed) and holds nothing more. */
  release(): void;
  /** Ends every held connection abruptly: the client never gets the held answers. */
  cut(): void;
  close(): Promise<void>;
}

interface Link {
  readonly client: Socket;
  readonly upstream: Socket;
  held: Buffer[] | undefined;
  upstreamEnded: boolean;
}

interface Trap {
  readonly request: RegExp;
  remaining: number;
  readonly sprung: () => void;
}

export async function startHoldingProxy(redisPort: number): Promise<HoldingProxy> {
  const links = new Set<Link>();
  let traps: Trap[] = [];
  let watchers: { request: RegExp; seen: () => void }[] = [];
  let refusing = false;

  const server = createServer({ allowHalfOpen: true }, (client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ port: redisPort, host: '127.0.0.1', allowHalfOpen: true });
    const link: Link = { client, upstream, held: undefined, upstreamEnded: false };
    links.add(link);
    const drop = (): void => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      const text = chunk.toString('latin1');
      watchers = watchers.filter((w) => (w.request.test(text) ? (w.seen(), false) : true));
      const trap = link.held === undefined ? traps.find((t) => t.request.test(text)) : undefined;
      if (trap !== undefined) {
        link.held = [];
        trap.remaining -= 1;
        if (trap.remaining === 0) {
          traps = traps.filter((t) => t !== trap);
          trap.sprung();
        }
      }
      upstream.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('data', (chunk: Buffer) => {
      if (link.held === undefined) client.write(chunk);
      else link.held.push(chunk);
    });
    upstream.on('end', () => {
      link.upstreamEnded = true;
      if (link.held === undefined) client.end();
    });
    // A held connection outlives its upstream (Redis killed): only release() or cut() settle it.
    upstream.on('error', () => (link.held === undefined ? drop() : upstream.destroy()));
    upstream.on('close', () => {
      if (link.held === undefined) drop();
    });
    client.on('error', drop);
    client.on('close', drop);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address !== 'object') throw new Error('proxy has no port');

  return {
    url: `redis://127.0.0.1:${address.port}`,
    refuseConnections(on) {
      refusing = on;
    },
    holdAnswersAfter(request, count = 1) {
      return new Promise((resolve) => traps.push({ request, remaining: count, sprung: resolve }));
    },
    seen(request) {
      return new Promise((resolve) => watchers.push({ request, seen: resolve }));
    },
    release() {
      traps = [];
      for (const link of links) {
        const held = link.held;
        if (held === undefined) continue;
        link.held = undefined;
        for (const chunk of held) link.client.write(chunk);
        if (link.upstreamEnded || link.upstream.destroyed) link.client.end();
      }
    },
    cut() {
      traps = [];
      for (const link of [...links]) {
        if (link.held === undefined) continue;
        links.delete(link);
        link.client.destroy();
        link.upstream.destroy();
      }
    },
    async close() {
      for (const link of links) {
        link.client.destroy();
        link.upstream.destroy();
      }
      links.clear();
      server.close();
      await once(server, 'close');
    },
  };
}
