import { GatehouseError, loadConfig, type Config } from 'gatehouse';
import { buildOrdersApi } from './app.js';

// Configuration comes from the environment like the standalone server (see README: for a try,
// GATEHOUSE_ENV=development and GATEHOUSE_ISSUER=http://127.0.0.1:8100/identity). Tokens: POST /identity/auth/login.
const port = Number(process.env.PORT ?? 8100);

/** Where this example keeps its embedded state unless told: not the standalone server's `.gatehouse/`. */
const ORDERS_DATA_DIR = '.gatehouse/orders-api';

// The embedded database admits one process; sharing `.gatehouse/db` with a running `npm start`
// could only fail. Its own directory lets both run side by side.
function ownDataDir(config: Config): Config {
  if (process.env.GATEHOUSE_DATA_DIR !== undefined || process.env.GATEHOUSE_DATABASE_URL !== undefined) return config;
  return { ...config, dataDir: ORDERS_DATA_DIR, database: { kind: 'pglite-dir', path: `${ORDERS_DATA_DIR}/db` } };
}

try {
  const app = await buildOrdersApi({ gatehouse: { config: ownDataDir(loadConfig(process.env)) } });
  await app.listen({ port, host: '127.0.0.1' });
  process.stdout.write(`orders-api on http://127.0.0.1:${port} (Gatehouse under /identity)\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
} catch (error) {
  // A known failure (configuration, a store, a busy port) is one line for the operator, not a stack.
  const code = (error as NodeJS.ErrnoException).code;
  const line =
    code === 'EADDRINUSE'
      ? `127.0.0.1:${port} is already in use; set PORT to a free port`
      : error instanceof GatehouseError
        ? `${error.message.replace(/\n\s*/g, ' ')}${error.logReason === undefined ? '' : ` (${error.logReason})`}`
        : undefined;
  if (line === undefined) throw error;
  process.stderr.write(`orders-api: ${line}\n`);
  process.exitCode = 1;
}
