import { loadConfig, startupFailureLine } from 'gatehouse';
import { buildSpa } from './app.js';

// Configuration comes from the environment like the standalone server (see README: for a try,
// GATEHOUSE_ENV=development and GATEHOUSE_ISSUER=http://127.0.0.1:8300/identity).
const port = Number(process.env.PORT ?? 8300);

try {
  const app = await buildSpa({ gatehouse: { config: loadConfig(process.env, { defaultDataDir: '.gatehouse/spa' }) } });
  await app.listen({ port, host: '127.0.0.1' });
  process.stdout.write(`spa on http://127.0.0.1:${port} (Gatehouse under /identity)\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
} catch (error) {
  const line = startupFailureLine(error);
  if (line === undefined) throw error;
  process.stderr.write(`spa: ${line}\n`);
  process.exitCode = 1;
}
