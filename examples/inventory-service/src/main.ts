import { serve } from '@hono/node-server';
import { createInventoryApp } from './app.js';

// INVENTORY_GATEHOUSE_URL=http://127.0.0.1:8000 npm start (in examples/inventory-service)
const gatehouseUrl = process.env.INVENTORY_GATEHOUSE_URL ?? 'http://127.0.0.1:8000';
const { app } = createInventoryApp({
  issuer: process.env.INVENTORY_ISSUER ?? gatehouseUrl,
  // This service's resource identifier: Gatehouse must list it in GATEHOUSE_RESOURCES (see README).
  audience: process.env.INVENTORY_AUDIENCE ?? 'urn:example:inventory-service',
  jwksUri: `${gatehouseUrl}/.well-known/jwks.json`,
});
const port = Number(process.env.PORT ?? '8100');
serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, (info) => console.log(`inventory service on http://127.0.0.1:${info.port}, trusting ${gatehouseUrl}`));
