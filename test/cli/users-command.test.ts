import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/config.js';
import { buildApp } from '../../src/http/app.js';
import { createServices, type GatehouseServices } from '../../src/services.js';
import { usersCommand } from '../../src/cli/users-command.js';
import { UsageError } from '../../src/cli/arguments.js';
import type { CliIo } from '../../src/cli/cli-services.js';
import { usernameKey } from '../../src/users/username.js';
import { lines, runCli, tempDeployment } from './cli-process.js';
import { authenticatorOf } from '../support/totp-authenticator.js';

const PASSWORD = 'correct horse battery staple';

/** The deployment the CLI just wrote to, opened in this process once the CLI has exited. */
async function openApp(env: Record<string, string>): Promise<{ app: FastifyInstance; services: GatehouseServices; close(): Promise<void> }> {
  const services = await createServices(loadConfig(env));
  const app = await buildApp(services, { logger: false });
  return {
    app,
    services,
    async close() {
      await app.close();
      await services.close();
    },
  };
}

function login(app: FastifyInstance, username: string, password: string) {
  return app.inject({
    method: 'POST',
    url: '/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
  });
}

function fakeIo(env: Record<string, string>): CliIo & { out: () => string } {
  let out = '';
  return { stdin: new PassThrough(), stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true }, env, out: () => out };
}

describe('gatehouse users (the real CLI, a PGlite database on disk shared between invocations)', () => {
  let deployment: Awaited<ReturnType<typeof tempDeployment>>;
  before(async () => {
    deployment = await tempDeployment();
  });
  after(() => deployment.cleanup());

  test('malicious: a password on the command line is refused (there is no --password), and never echoed', async () => {
    const result = await runCli(['users', 'create', 'mallory', '--password', 'hunter2 is my secret'], { env: deployment.env });
    assert.equal(result.status, 2, result.stderr);
    assert.match(lines(result.stderr)[0] ?? '', /^gatehouse: unknown option --password \(a password is never read from the command line/);
    assert.match(result.stderr, /usage: gatehouse users create/);
    assert.doesNotMatch(result.stderr, /hunter2/);
    assert.equal(result.stdout, '');
  });

  test('malicious: a weak password on stdin is refused with the policy message, exit 1, nothing stored', async () => {
    const result = await runCli(['users', 'create', 'bob', '--password-stdin'], { env: deployment.env, input: 'password\n' });
    assert.equal(result.status, 1, result.stderr);
    assert.deepEqual(lines(result.stderr), ['gatehouse: password must be at least 15 characters [ERR_PASSWORD_POLICY]']);
    assert.equal(result.stdout, '');
  });

  test('without --password-stdin and without a terminal: a usage error, before any store is opened', async () => {
    const io = fakeIo(deployment.env);
    await assert.rejects(usersCommand(['create', 'carol'], io), (error: unknown) => error instanceof UsageError && /--password-stdin/.test(error.message));
  });

  test('missing or extra arguments, conflicting options and delete without --yes are usage errors', async () => {
    const io = fakeIo(deployment.env);
    for (const argv of [
      ['grant', 'alice'],
      ['disable'],
      ['disable', 'a', 'b'],
      ['show', 'alice', '--id', '--username'],
      ['delete', 'alice'],
      ['list', '--limit', '0'],
      ['frobnicate'],
      [],
    ]) {
      await assert.rejects(usersCommand(argv, io), UsageError, argv.join(' '));
    }
  });

  test('--help on every subcommand: exit 0, the usage and the exit codes on stdout', async () => {
    for (const sub of ['create', 'list', 'show', 'disable', 'enable', 'lock', 'unlock', 'logout', 'reset-factors', 'delete', 'grant', 'revoke']) {
      const io = fakeIo(deployment.env);
      assert.equal(await usersCommand([sub, '--help'], io), 0);
      assert.match(io.out(), new RegExp(`^usage: gatehouse users ${sub}`), sub);
      assert.match(io.out(), /3 {2}no such user/, sub);
    }
  });

  test('users create alice --admin: the first admin, whose password login yields the admin scopes over HTTP', async () => {
    const created = await runCli(['users', 'create', 'alice', '--admin', '--password-stdin', '--json'], { env: deployment.env, input: `${PASSWORD}\n` });
    assert.equal(created.status, 0, created.stderr);
    const user = JSON.parse(created.stdout) as { id: string; username: string; roles: string[] };
    assert.equal(user.username, 'alice');
    assert.deepEqual(user.roles, ['admin']);

    const running = await openApp(deployment.env);
    try {
      const res = await login(running.app, 'alice', PASSWORD);
      assert.equal(res.statusCode, 200, res.body);
      const token = res.json() as { access_token: string; scope: string };
      assert.deepEqual(token.scope.split(' ').sort(), ['admin:audit', 'admin:tenants', 'admin:users', 'profile']);
      const listed = await running.app.inject({ method: 'GET', url: '/admin/users', headers: { authorization: `Bearer ${token.access_token}` } });
      assert.equal(listed.statusCode, 200, listed.body);
      assert.deepEqual(
        (listed.json() as { users: { username: string }[] }).users.map((u) => u.username),
        ['alice'],
      );
      // The weak-password attempt above stored nothing.
      assert.equal(await running.services.users.findByUsernameKey(usernameKey('bob')), undefined);

      // Regression guard: PGlite on disk has no lock, and a second process would corrupt it.
      const refused = await runCli(['users', 'list'], { env: deployment.env });
      assert.equal(refused.status, 1, refused.stderr);
      assert.match(refused.stderr, /^gatehouse: the embedded database .* is open in another process/);
    } finally {
      await running.close();
    }
  });

  test('users disable alice: her password login is refused; the action is audited with the CLI as actor', async () => {
    const disabled = await runCli(['users', 'disable', 'ALICE'], { env: deployment.env });
    assert.equal(disabled.status, 0, disabled.stderr);
    assert.match(disabled.stdout, /^disabled alice [0-9a-f-]{36}\n$/);

    const running = await openApp(deployment.env);
    try {
      const res = await login(running.app, 'alice', PASSWORD);
      assert.equal(res.statusCode, 400);
      assert.equal((res.json() as { error: string }).error, 'invalid_grant');
      const alice = await running.services.users.findByUsernameKey('alice');
      const [row] = await running.services.audit.list({ subjectId: alice!.id, event: 'user.disabled', limit: 1 });
      assert.equal(row?.actorId, null);
      assert.equal(row?.userAgent, 'gatehouse-cli');
    } finally {
      await running.close();
    }
  });

  test('a user that does not exist: exit 3 and one line on stderr', async () => {
    const result = await runCli(['users', 'lock', 'nobody'], { env: deployment.env });
    assert.equal(result.status, 3, result.stderr);
    assert.deepEqual(lines(result.stderr), ['gatehouse: no such user: "nobody"']);
    assert.equal(result.stdout, '');
  });
});

describe('gatehouse users create: look-alike names and context passwords (a deployment of its own)', () => {
  let deployment: Awaited<ReturnType<typeof tempDeployment>>;
  before(async () => {
    deployment = await tempDeployment();
  });
  after(() => deployment.cleanup());

  test('malicious: a look-alike of an existing name is refused like the name itself; the operator is told why (issue 19 item 9)', async () => {
    const create = (name: string) => runCli(['users', 'create', name, '--password-stdin'], { env: deployment.env, input: `${PASSWORD}\n` });
    assert.equal((await create('lookalike-admin')).status, 0);
    const again = await create('lookalike-admin');
    assert.equal(again.status, 1, again.stderr);
    assert.deepEqual(lines(again.stderr), ['gatehouse: username is already taken (username exists) [ERR_USERNAME_TAKEN]']);
    for (const name of ['lookalike-adm\u0131n', 'lookalike-adrnin']) {
      const result = await create(name);
      assert.equal(result.status, again.status, name);
      assert.deepEqual(lines(result.stderr), ['gatehouse: username is already taken (looks like an existing username) [ERR_USERNAME_TAKEN]'], name);
    }
  });

  test("malicious: a password made of the email's local part is refused (issue 19 item 11)", async () => {
    const result = await runCli(['users', 'create', 'dx-user', '--email', 'dora.explorer@example.com', '--password-stdin'], {
      env: deployment.env,
      input: 'explorer#dora!2024\n',
    });
    assert.equal(result.status, 1, result.stderr);
    assert.deepEqual(lines(result.stderr), ['gatehouse: password must not be mostly the name of this service or of the account [ERR_PASSWORD_POLICY]']);
  });
});

describe('gatehouse users reset-factors (a deployment of its own)', () => {
  let own: Awaited<ReturnType<typeof tempDeployment>>;
  before(async () => {
    own = await tempDeployment();
  });
  after(() => own.cleanup());

  test('users reset-factors: a user who lost the authenticator signs in with the password alone again', async () => {
    const opened = await openApp(own.env);
    try {
      const registered = await opened.app.inject({ method: 'POST', url: '/auth/register', payload: { username: 'totp-lost', password: PASSWORD } });
      assert.equal(registered.statusCode, 201, registered.body);
      const token = (await login(opened.app, 'totp-lost', PASSWORD)).json().access_token as string;
      const auth = { authorization: `Bearer ${token}` };
      const started = (await opened.app.inject({ method: 'POST', url: '/me/factors/totp', headers: auth, payload: {} })).json();
      const code = authenticatorOf(started.otpauth_uri).codeAt(Date.now());
      const confirmed = await opened.app.inject({ method: 'POST', url: `/me/factors/${started.id}/confirm`, headers: auth, payload: { code } });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      assert.equal((await login(opened.app, 'totp-lost', PASSWORD)).statusCode, 403, 'a second factor is asked for');
    } finally {
      await opened.close();
    }
    const io = fakeIo(own.env);
    assert.equal(await usersCommand(['reset-factors', 'totp-lost'], io), 0);
    assert.match(io.out(), /^second factors removed from totp-lost /);
    const reopened = await openApp(own.env);
    try {
      assert.equal((await login(reopened.app, 'totp-lost', PASSWORD)).statusCode, 200);
    } finally {
      await reopened.close();
    }
  });
});
