import type { Config } from '../config/config.js';
import { ConfigError } from '../errors/errors.js';
import { buildApp } from '../http/app.js';
import { isLoopbackHost } from '../config/loopback-host.js';
import { startMetricsServer, type MetricsServer } from '../http/metrics-server.js';
import { createServices, type GatehouseServices } from '../services.js';

function banner(config: Config, services: GatehouseServices, address: string, metricsServer: MetricsServer | undefined): string {
  const lines = [`Gatehouse listening on ${address} (issuer ${config.issuer})`, `  mode: ${config.env} (${config.envReason})`];
  const db = config.database;
  lines.push(`  database: ${db.kind === 'postgres' ? 'PostgreSQL' : db.kind === 'pglite-memory' ? 'PGlite in memory (lost on exit)' : `PGlite at ${db.path}`}`);
  const redis =
    config.redisSentinel === undefined ? 'Redis' : `Redis "${config.redisSentinel.name}" through ${config.redisSentinel.sentinels.length} sentinel(s)`;
  lines.push(`  ephemeral state: ${config.redisUrl === undefined && config.redisSentinel === undefined ? 'in process (single instance only)' : redis}`);
  lines.push(`  mail: ${services.mailer.description}`);
  if (services.keySource.kind === 'store') {
    const kek =
      config.keyEncryptionKey === undefined ? 'a generated development KEK (production needs GATEHOUSE_KEY_ENCRYPTION_KEY)' : 'GATEHOUSE_KEY_ENCRYPTION_KEY';
    const rotation = config.keyRotationDays === undefined ? 'rotation by hand (gatehouse keys rotate)' : `rotated every ${config.keyRotationDays} days`;
    lines.push(`  signing keys: stored in the database, sealed under ${kek}; ${rotation}`);
  }
  if (services.keySource.kind === 'development') {
    lines.push(
      '',
      '  DEVELOPMENT MODE: signing with a generated Ed25519 key',
      `  ${services.keySource.created ? 'created' : 'loaded'} ${services.keySource.path} — never use it in production.`,
      '  For production set GATEHOUSE_ENV=production and GATEHOUSE_SIGNING_KEYS=/path/to/private-jwks.json',
      '  (see README, "Production checklist").',
    );
  }
  if (config.env === 'development' && !isLoopbackHost(config.host)) {
    lines.push(
      '',
      `  WARNING: DEVELOPMENT MODE ON ${config.host}, NOT LOOPBACK: anyone who reaches this address talks to a`,
      '  development server (development keys, development defaults). Use it on a trusted network only.',
    );
  }
  lines.push(`  docs: ${config.issuer}/docs`);
  lines.push(`  metrics: ${metricsServer === undefined ? 'off (set GATEHOUSE_METRICS_PORT to serve them)' : `${metricsServer.address}/metrics`}`);
  if (config.metrics !== undefined && !isLoopbackHost(config.metrics.host)) {
    lines.push(
      '',
      `  WARNING: the metrics server listens on ${config.metrics.host}, not loopback, and has no authentication.`,
      '  Make sure only your Prometheus can reach it (firewall, private network).',
    );
  }
  return lines.join('\n');
}

/** A port that cannot be bound is an operator's fix, not a bug: one line saying which and what to do. */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new ConfigError([`PORT: ${host}:${port} is already in use; stop the process listening there or set PORT to a free port`]);
  if (code === 'EACCES') return new ConfigError([`PORT: not allowed to listen on ${host}:${port}; use a port above 1023 or run with the needed privilege`]);
  if (code === 'EADDRNOTAVAIL') return new ConfigError([`HOST: ${host} is not an address of this machine; set HOST to one (127.0.0.1, 0.0.0.0, …)`]);
  return error;
}

/** `gatehouse serve`: run the server until SIGINT/SIGTERM, then drain and close the stores. */
export async function serve(config: Config): Promise<void> {
  const services = await createServices(config);
  let app;
  try {
    app = await buildApp(services);
  } catch (error) {
    await services.close();
    throw error;
  }
  let address: string;
  try {
    address = await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app.close();
    await services.close();
    throw listenError(error, config.host, config.port);
  }
  let metricsServer: MetricsServer | undefined;
  if (config.metrics !== undefined) {
    const { host, port } = config.metrics;
    try {
      metricsServer = await startMetricsServer(services.metrics, { host, port });
    } catch (error) {
      await app.close();
      await services.close();
      throw new ConfigError([`GATEHOUSE_METRICS_PORT: cannot listen on ${host}:${port} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
  }
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    void Promise.all([app.close(), metricsServer?.close()])
      .then(() => services.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  // After the handlers: whoever waits for the banner may signal at once, and a signal with no
  // listener yet would kill the process without draining or closing the stores.
  process.stdout.write(`${banner(config, services, address, metricsServer)}\n`);
}
