import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { gatehouse, PUBLIC } from '../../src/index.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/**
 * The library guard installs itself when a route is added. These host apps add routes before it
 * exists, in each way a host can: each such route must be refused, never served unguarded.
 */
describe('library mode: routes registered before gatehouse are refused, not served unguarded', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp();
  });
  after(() => t.close());

  const hostWith = async (build: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> => {
    const app = Fastify({ logger: false });
    await build(app);
    await app.ready();
    return app;
  };
  const refused = async (app: FastifyInstance, url: string) => {
    try {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 500, `${url}: ${res.body}`);
      assert.equal(res.json<{ code: string }>().code, 'ERR_INTERNAL');
      assert.doesNotMatch(res.body, /secret/);
    } finally {
      await app.close();
    }
  };

  test('malicious: a route on the root before register(gatehouse), even one declaring scopes', async () => {
    const app = await hostWith(async (host) => {
      host.get('/early', { config: { auth: { scopes: ['admin:users'] } } }, async () => ({ secret: true }));
      await host.register(gatehouse, { services: t.services });
    });
    await refused(app, '/early');
  });

  test('malicious: a route in a plugin registered before gatehouse', async () => {
    const app = await hostWith(async (host) => {
      await host.register(async (child) => {
        child.get('/child', async () => ({ secret: true }));
      });
      await host.register(gatehouse, { services: t.services });
    });
    await refused(app, '/child');
  });

  test('malicious: a route added right after an un-awaited register(gatehouse)', async () => {
    const app = await hostWith(async (host) => {
      void host.register(gatehouse, { services: t.services });
      host.get('/racing', async () => ({ secret: true }));
    });
    await refused(app, '/racing');
  });

  test('routes added after gatehouse work as declared; unknown paths stay 404', async () => {
    const app = await hostWith(async (host) => {
      await host.register(gatehouse, { services: t.services });
      host.get('/open', { config: { auth: PUBLIC } }, async () => ({ ok: true }));
    });
    try {
      assert.equal((await app.inject({ method: 'GET', url: '/open' })).statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: '/nowhere' })).statusCode, 404);
    } finally {
      await app.close();
    }
  });
});
