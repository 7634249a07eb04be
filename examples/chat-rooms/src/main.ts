import { GatehouseError, loadConfig, type Config } from 'gatehouse';
import { buildChatRooms } from './app.js';

// Configuration comes from the environment like the standalone server (see README: for a try,
// GATEHOUSE_ENV=development and GATEHOUSE_ISSUER=http://127.0.0.1:8200/identity).
const port = Number(process.env.PORT ?? 8200);

/** Its own embedded state unless told: not the standalone server's `.gatehouse/`. */
const CHAT_DATA_DIR = '.gatehouse/chat-rooms';

// The embedded database admits one process: its own directory lets it run beside the others.
function ownDataDir(config: Config): Config {
  if (process.env.GATEHOUSE_DATA_DIR !== undefined || process.env.GATEHOUSE_DATABASE_URL !== undefined) return config;
  return { ...config, dataDir: CHAT_DATA_DIR, database: { kind: 'pglite-dir', path: `${CHAT_DATA_DIR}/db` } };
}

try {
  const app = await buildChatRooms({ gatehouse: { config: ownDataDir(loadConfig(process.env)) } });
  await app.listen({ port, host: '127.0.0.1' });
  process.stdout.write(`chat-rooms on http://127.0.0.1:${port} (Gatehouse under /identity; sockets at /rooms/<id>/socket?ticket=…)\n`);
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
  process.stderr.write(`chat-rooms: ${line}\n`);
  process.exitCode = 1;
}
