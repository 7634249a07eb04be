import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { GatehouseMetrics } from '../observability/metrics.js';

export interface MetricsServer {
  /** `http://host:port`, the port as bound (a test may ask for port 0). */
  readonly address: string;
  close(): Promise<void>;
}

export interface MetricsListen {
  readonly host: string;
  readonly port: number;
}

function answer(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  response.end(body);
}

/**
 * The Prometheus scrape endpoint, on its own port and never on the public app: `GET /metrics`
 * answers the text exposition, anything else 404. No authentication of its own: bind it to
 * loopback (the default) or a network only the scraper reaches.
 *
 * @example
 * const server = await startMetricsServer(services.metrics, { host: '127.0.0.1', port: 9464 });
 * // …
 * await server.close();
 */
export async function startMetricsServer(metrics: Pick<GatehouseMetrics, 'contentType' | 'exposition'>, listen: MetricsListen): Promise<MetricsServer> {
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const url = request.url ?? '';
    const path = url.includes('?') ? url.slice(0, url.indexOf('?')) : url;
    if (path !== '/metrics' || request.method !== 'GET') {
      answer(response, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    metrics.exposition().then(
      (text) => answer(response, 200, metrics.contentType, text),
      () => answer(response, 500, 'text/plain; charset=utf-8', 'metrics collection failed\n'),
    );
  };
  const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    address: `http://${isIP(address) === 6 ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        // A scraper's keep-alive connection would hold close() open until it times out.
        server.closeAllConnections();
      }),
  };
}
