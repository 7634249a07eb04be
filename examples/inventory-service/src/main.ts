import { serve } from '@hono/node-server';
import { createInventoryApp } from './app.js';

// Gatehouse's URL: by default the standalone server `npm start` runs at the repository root.
const gatehouseUrl = (process.env.INVENTORY_GATEHOUSE_URL ?? 'http://127.0.0.1:8000').replace(/\/+$/, '');
const jwksUri = `${gatehouseUrl}/.well-known/jwks.json`;

// Without Gatehouse every request would answer 503 with nothing said: check it answers before
// serving, and say where it was looked for and how to point elsewhere.
try {
  const res = await fetch(jwksUri, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
} catch (error) {
  const reason = error instanceof Error ? ((error.cause as { code?: string } | undefined)?.code ?? error.message) : String(error);
  process.stderr.write(
    `inventory-service: cannot reach Gatehouse at ${jwksUri} (${reason}); start it (npm start at the repository root) or set INVENTORY_GATEHOUSE_URL\n`,
  );
  process.exit(1);
}

const { app } = createInventoryApp({
  issuer: process.env.INVENTORY_ISSUER ?? gatehouseUrl,
  // This service's resource identifier: Gatehouse must list it in GATEHOUSE_RESOURCES (see README).
  audience: process.env.INVENTORY_AUDIENCE ?? 'urn:example:inventory-service',
  jwksUri,
});
const port = Number(process.env.PORT ?? '8100');
serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => console.log(`inventory service on http://127.0.0.1:${info.port}, trusting ${gatehouseUrl}`));
