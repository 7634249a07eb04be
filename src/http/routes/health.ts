import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { PUBLIC } from '../../guard/requirement.js';
import type { GatehouseServices } from '../../services.js';

export const healthRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  app.get('/healthz', { config: { auth: PUBLIC }, schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { auth: PUBLIC }, schema: { hide: true } }, async (request, reply) => {
    const checks = await Promise.allSettled([services.database.ping(), services.ephemeral.ping()]);
    const [database, ephemeral] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'unavailable'));
    // Not current: this instance cannot vouch that a token revoked elsewhere is refused here.
    const revocation = services.revocations.state().current ? 'ok' : 'stale';
    const ready = checks.every((c) => c.status === 'fulfilled') && revocation === 'ok';
    if (!ready) request.log.warn({ database, ephemeral, revocation }, 'not ready');
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', checks: { database, ephemeral, revocation } });
  });
};
