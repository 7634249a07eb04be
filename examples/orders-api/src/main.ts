import { loadConfig, startupFailureLine } from 'gatehouse';
import { buildOrdersApi } from './app.js';

// Configuration comes from the environment like the standalone server (see README: for a try,
// GATEHOUSE_ENV=development and GATEHOUSE_ISSUER=http://127.0.0.1:8100/identity). Tokens: POST /identity/auth/login.
const port = Number(process.env.PORT ?? 8100);

// Its own embedded state unless GATEHOUSE_DATA_DIR says otherwise, not the standalone server's `.gatehouse/`.
try {
  const app = await buildOrdersApi({ gatehouse: { config: loadConfig(process.env, { defaultDataDir: '.gatehouse/orders-api' }) } });
  await app.listen({ port, host: '127.0.0.1' });
  process.stdout.write(`orders-api on http://127.0.0.1:${port} (Gatehouse under /identity)\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
} catch (error) {
  // A known failure (configuration, a store, a busy port) is one line for the operator, not a stack.
  const line = startupFailureLine(error);
  if (line === undefined) throw error;
  process.stderr.write(`orders-api: ${line}\n`);
  process.exitCode = 1;
}
