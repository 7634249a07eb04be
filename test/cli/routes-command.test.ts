import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RouteReport } from '../../src/cli/route-inventory.js';
import { runCli, tempDeployment } from './cli-process.js';

describe('gatehouse routes (the real CLI)', () => {
  let deployment: Awaited<ReturnType<typeof tempDeployment>>;
  before(async () => {
    deployment = await tempDeployment();
  });
  after(() => deployment.cleanup());

  test('the shipped app: exit 0, every route with its requirement, only expected flags, nothing written to the deployment', async () => {
    const result = await runCli(['routes', '--json'], { env: deployment.env });
    assert.equal(result.status, 0, result.stderr);
    const { routes, unexpected } = JSON.parse(result.stdout) as { routes: RouteReport[]; unexpected: number };
    assert.equal(unexpected, 0);
    const find = (method: string, path: string) => routes.find((r) => r.method === method && r.path === path);

    const adminUsers = find('GET', '/admin/users');
    assert.ok(adminUsers, 'GET /admin/users is listed');
    assert.deepEqual(adminUsers.scopes, ['admin:users']);
    assert.equal(adminUsers.public, false);
    assert.deepEqual(adminUsers.openapi, [{ oauth2: ['admin:users'] }]);
    assert.deepEqual(adminUsers.flags, []);

    for (const path of ['/auth/token', '/auth/login', '/auth/register', '/auth/refresh', '/auth/revoke']) {
      const flags = find('POST', path)?.flags ?? [];
      assert.equal(flags.length, 1, path);
      assert.equal(flags[0]?.code, 'PUBLIC_WRITE', path);
      assert.ok((flags[0]?.expected ?? '').length > 0, `${path} is expected, with a reason`);
    }
    assert.equal(find('GET', '/healthz')?.requirement, 'public');
    // The catch-up feed for resource servers: a machine secret, documented as its own scheme.
    const feed = find('GET', '/revocations');
    assert.equal(feed?.requirement, 'secret revocation-feed');
    assert.equal(feed?.public, false);
    assert.deepEqual(feed?.openapi, [{ revocationFeedSecret: [] }]);
    assert.deepEqual(feed?.flags, []);
    assert.equal(find('POST', '/auth/logout')?.requirement, 'authenticated');
    for (const r of routes.filter((x) => x.path.startsWith('/admin/')))
      assert.ok(
        r.scopes.some((s) => s.startsWith('admin:')),
        `${r.method} ${r.path}`,
      );

    // A throwaway in-memory database and key: the configured deployment is left untouched.
    const { existsSync } = await import('node:fs');
    assert.equal(existsSync(deployment.env.GATEHOUSE_DATABASE_URL!), false);
    assert.equal(existsSync(deployment.env.GATEHOUSE_DATA_DIR!), false);
  });
});
