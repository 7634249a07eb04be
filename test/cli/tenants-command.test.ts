import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { CliIo } from '../../src/cli/cli-services.js';
import { reportError } from '../../src/cli/report-error.js';
import { tenantsCommand } from '../../src/cli/tenants-command.js';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/http/app.js';
import { createServices } from '../../src/services.js';
import { lines, runCli, tempDeployment } from './cli-process.js';

const PASSWORD = 'correct horse battery staple';

describe('gatehouse tenants (a PGlite database on disk shared between invocations)', () => {
  let deployment: Awaited<ReturnType<typeof tempDeployment>>;

  /** In process, through the same error reporting as bin/gatehouse: the exit code and both streams. */
  const tenants = async (argv: string[]): Promise<{ status: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      stdin: new PassThrough(),
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      env: deployment.env,
    };
    const status = await tenantsCommand(argv, io).catch((error: unknown) => reportError(error, io));
    return { status, stdout, stderr };
  };

  before(async () => {
    deployment = await tempDeployment();
    const created = await runCli(['users', 'create', 'carol', '--password-stdin'], { env: deployment.env, input: `${PASSWORD}\n` });
    assert.equal(created.status, 0, created.stderr);
  });
  after(() => deployment.cleanup());

  test('malicious: a global role cannot be granted in a tenant (admin there must not mean Gatehouse admin), exit 1', async () => {
    // The real entry point once, for the wiring: `gatehouse tenants` reaches this command.
    const made = await runCli(['tenants', 'create', 'acme', '--name', 'Acme Corp'], { env: deployment.env });
    assert.equal(made.status, 0, made.stderr);
    assert.match(lines(made.stdout)[0] ?? '', /^created tenant acme [0-9a-f-]{36}$/);
    assert.equal((await tenants(['add', 'acme', 'carol'])).status, 0);
    const result = await tenants(['grant', 'acme', 'carol', 'admin']);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /admin is a global role/);
  });

  test('unknown tenant: exit 3; a taken slug (any case): exit 1 with the conflict; a bad slug: exit 1; no subcommand: exit 2', async () => {
    assert.equal((await tenants(['members', 'nope'])).status, 3);
    const taken = await tenants(['create', 'ACME']);
    assert.equal(taken.status, 1);
    assert.match(taken.stderr, /exists already/);
    assert.equal((await tenants(['create', 'a_b'])).status, 1);
    assert.equal((await tenants([])).status, 2);
  });

  test('grant a tenant role; members --json shows it; a login to the tenant carries tid and the role', async () => {
    const granted = await tenants(['grant', 'acme', 'carol', 'manager']);
    assert.equal(granted.status, 0, granted.stderr);
    assert.equal(lines(granted.stdout)[0], 'granted manager to carol in acme; roles there: manager');
    const members = await tenants(['members', 'acme', '--json']);
    assert.deepEqual(
      (JSON.parse(members.stdout) as { roles: string[] }[]).map((m) => m.roles),
      [['manager']],
    );
    const [acme] = JSON.parse((await tenants(['list', '--json'])).stdout) as { id: string; slug: string; name: string }[];
    assert.equal(acme?.name, 'Acme Corp');

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
    assert.equal((await tenants(['remove', 'acme', 'carol'])).status, 0);
    assert.equal((await tenants(['remove', 'acme', 'carol'])).status, 3);
  });
});
