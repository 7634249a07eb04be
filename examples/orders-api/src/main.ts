import { buildOrdersApi } from './app.js';

// Configuration comes from the environment like the standalone server (see README: for a try,
// GATEHOUSE_ENV=development and GATEHOUSE_ISSUER=http://127.0.0.1:8100/identity). Tokens: POST /identity/auth/login.
const port = Number(process.env.PORT ?? 8100);
const app = await buildOrdersApi();
await app.listen({ port, host: '127.0.0.1' });
process.stdout.write(`orders-api on http://127.0.0.1:${port} (Gatehouse under /identity)\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void app.close());
