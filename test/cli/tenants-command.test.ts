import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/http/app.js';
import { createServices } from '../../src/services.js';
import { lines, runCli, tempDeployment } from './cli-process.js';

const PASSWORD = 'correct horse battery staple';

describe('gatehouse tenants (the real CLI on a PGlite database on disk)', () => {
  let deployment: Awaited<ReturnType<typeof tempDeployment>>;
  before(async () => {
    deployment = await tempDeployment();
    const created = await runCli(['users', 'create', 'carol', '--password-stdin'], { env: deployment.env, input: `${PASSWORD}\n` });
    assert.equal(created.status, 0, created.stderr);
  });
  after(() => deployment.cleanup());

  test('malicious: a global role cannot be granted in a tenant (admin there must not mean Gatehouse admin), exit 1', async () => {
    assert.equal((await runCli(['tenants', 'create', 'acme'], { env: deployment.env })).status, 0);
    assert.equal((await runCli(['tenants', 'add', 'acme', 'carol'], { env: deployment.env })).status, 0);
    const result = await runCli(['tenants', 'grant', 'acme', 'carol', 'admin'], { env: deployment.env });
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /admin is a global role/);
  });

  test('unknown tenant: exit 3; a taken slug: exit 1 with the conflict; a bad slug: exit 1', async () => {
    const missing = await runCli(['tenants', 'members', 'nope'], { env: deployment.env });
    assert.equal(missing.status, 3, missing.stderr);
    const taken = await runCli(['tenants', 'create', 'ACME'], { env: deployment.env });
    assert.equal(taken.status, 1);
    assert.match(taken.stderr, /exists already/);
    const bad = await runCli(['tenants', 'create', '-bad-'], { env: deployment.env });
    assert.notEqual(bad.status, 0);
  });

  test('grant a tenant role; members --json shows it; a login to the tenant carries tid and the role', async () => {
    const granted = await runCli(['tenants', 'grant', 'acme', 'carol', 'manager'], { env: deployment.env });
    assert.equal(granted.status, 0, granted.stderr);
    assert.match(lines(granted.stdout)[0] ?? '', /^granted manager to carol in acme; roles there: manager$/);
    const members = await runCli(['tenants', 'members', 'acme', '--json'], { env: deployment.env });
    assert.equal(members.status, 0, members.stderr);
    const parsed = JSON.parse(members.stdout) as { roles: string[] }[];
    assert.deepEqual(parsed.map((m) => m.roles), [['manager']]);
    const listed = await runCli(['tenants', 'list', '--json'], { env: deployment.env });
    const [acme] = JSON.parse(listed.stdout) as { id: string; slug: string }[];

    const services = await createServices(loadConfig(deployment.env));
    const app = await buildApp(services, { logger: false });
    try {
      const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'carol', password: PASSWORD, tenant: 'acme' } });
      assert.equal(res.statusCode, 200, res.body);
      const claims = decodeJwt(res.json<{ access_token: string }>().access_token);
      assert.equal(claims.tid, acme?.id);
      assert.deepEqual(claims.roles, ['manager']);
    } finally {
      await app.close();
      await services.close();
    }
  });

  test('remove ends the membership; a second remove is exit 3', async () => {
    assert.equal((await runCli(['tenants', 'remove', 'acme', 'carol'], { env: deployment.env })).status, 0);
    assert.equal((await runCli(['tenants', 'remove', 'acme', 'carol'], { env: deployment.env })).status, 3);
  });
});
