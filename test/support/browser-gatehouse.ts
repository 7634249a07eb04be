import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestApp, type TestApp, type TestAppOptions } from './test-app.js';

export interface ListeningGatehouse {
  readonly t: TestApp;
  /** http://127.0.0.1:<port>: also the issuer, so Origin checks see the origin the browser uses. */
  readonly base: string;
  close(): Promise<void>;
}

/** A free port on 127.0.0.1 (the issuer must name the port before the app is built). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A real Gatehouse listening on 127.0.0.1 on the stores of this test pass (embedded, or PostgreSQL
 * + Redis in the real pass), development mode over plain http, issuer = its own address.
 */
export async function startListeningGatehouse(options: TestAppOptions = {}): Promise<ListeningGatehouse> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const t = await startTestApp({ ...options, env: { GATEHOUSE_ISSUER: base, ...options.env } });
  try {
    await t.app.listen({ host: '127.0.0.1', port });
  } catch (error) {
    await t.close();
    throw error;
  }
  return { t, base, close: () => t.close() };
}

export interface AttackSite {
  /** http://127.0.0.2:<port>: another site than 127.0.0.1 for the browser (cookies, Sec-Fetch-Site). */
  readonly origin: string;
  /** Serves `html` at `path` on the attack origin. */
  page(path: string, html: string): string;
  close(): Promise<void>;
}

/** The attacker's web server: a second loopback address, so a different origin and site. */
export async function startAttackSite(): Promise<AttackSite> {
  const pages = new Map<string, string>();
  const server: Server = createServer((request, response) => {
    const html = pages.get(request.url ?? '');
    response.writeHead(html === undefined ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(html ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.2:${port}`;
  return {
    origin,
    page(path, html) {
      pages.set(path, html);
      return `${origin}${path}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
