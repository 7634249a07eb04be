import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../../src/cli/arguments.js';
import type { CliIo } from '../../src/cli/cli-services.js';
import { serviceAccountsCommand } from '../../src/cli/service-accounts-command.js';
import { loadConfig } from '../../src/config/config.js';
import { NotFoundError } from '../../src/errors/errors.js';
import { buildApp } from '../../src/http/app.js';
import { createServices } from '../../src/services.js';
import { usersCommand } from '../../src/cli/users-command.js';
import { runCli, tempDeployment } from './cli-process.js';

const PASSWORD = 'correct horse battery staple';

function fakeIo(env: Record<string, string>): CliIo & { out: () => string } {
  let out = '';
  return { stdin: new PassThrough(), stdout: { write: (t: string) => (out += t) }, stderr: { write: () => true }, env, out: () => out };
}

/** Runs one command in process and returns what it printed. */
async function run(env: Record<string, string>, argv: string[]): Promise<string> {
  const io = fakeIo(env);
  assert.equal(await serviceAccountsCommand(argv, io), 0, argv.join(' '));
  return io.out();
}

/** GET /me with the key, on the deployment the CLI wrote to (opened once the CLI is done with it). */
async function meWithKey(env: Record<string, string>, key: string): Promise<number> {
  const services = await createServices(loadConfig(env));
  const app = await buildApp(services, { logger: false });
  try {
    return (await app.inject({ method: 'GET', url: '/me', headers: { 'x-api-key': key } })).statusCode;
  } finally {
    await app.close();
    await services.close();
  }
}

describe('gatehouse service-accounts (a PGlite database on disk shared between invocations)', () => {
  let deployment: Awaited<ReturnType<typeof tempDeployment>>;
  before(async () => {
    deployment = await tempDeployment();
  });
  after(() => deployment.cleanup());

  test('malicious: a person is no service account: disable, delete and keys refuse it as not found, and it is left as it was', async () => {
    const created = await runCli(['users', 'create', 'a-person', '--password-stdin'], { env: deployment.env, input: `${PASSWORD}\n` });
    assert.equal(created.status, 0, created.stderr);
    const io = fakeIo(deployment.env);
    for (const argv of [
      ['disable', 'a-person'],
      ['delete', 'a-person', '--yes'],
      ['keys', 'create', 'a-person', '--name', 'k', '--scope', 'profile'],
      ['keys', 'list', 'a-person'],
    ]) {
      await assert.rejects(serviceAccountsCommand(argv, io), NotFoundError, argv.join(' '));
    }
    const shown = fakeIo(deployment.env);
    await usersCommand(['show', 'a-person', '--json'], shown);
    assert.equal((JSON.parse(shown.out()) as { disabled_at: string | null }).disabled_at, null);
  });

  test('missing arguments, delete without --yes and a key without --scope are usage errors', async () => {
    const io = fakeIo(deployment.env);
    for (const argv of [['create'], ['delete', 'x'], ['keys', 'create', 'x', '--name', 'k'], ['keys', 'frobnicate'], ['keys'], ['frobnicate'], []]) {
      await assert.rejects(serviceAccountsCommand(argv, io), UsageError, argv.join(' '));
    }
  });

  test('create, keys create (printed once), the key works over HTTP; revoke, disable and delete end it; all audited', async () => {
    const account = JSON.parse(await run(deployment.env, ['create', 'ci-bot', '--json'])) as { id: string; name: string; roles: string[] };
    assert.equal(account.name, 'ci-bot');
    const first = JSON.parse(await run(deployment.env, ['keys', 'create', 'ci-bot', '--name', 'deploy', '--scope', 'profile', '--json'])) as {
      id: string;
      key: string;
    };
    assert.match(first.key, /^ghk_/);
    const listed = await run(deployment.env, ['keys', 'list', account.id, '--json']);
    assert.equal((JSON.parse(listed) as { id: string }[])[0]?.id, first.id);
    assert.ok(!listed.includes(first.key), 'never the key');
    assert.match(await run(deployment.env, ['list']), /ci-bot/);
    assert.equal(await meWithKey(deployment.env, first.key), 200);

    await run(deployment.env, ['keys', 'revoke', 'ci-bot', first.id]);
    assert.equal(await meWithKey(deployment.env, first.key), 401, 'revoked');

    const second = (await run(deployment.env, ['keys', 'create', 'ci-bot', '--name', 'deploy', '--scope', 'profile'])).trim();
    assert.equal(await meWithKey(deployment.env, second), 200);
    await run(deployment.env, ['disable', 'ci-bot']);
    assert.equal(await meWithKey(deployment.env, second), 401, 'disabled');
    await run(deployment.env, ['delete', 'ci-bot', '--yes']);
    await assert.rejects(serviceAccountsCommand(['keys', 'list', 'ci-bot'], fakeIo(deployment.env)), NotFoundError, 'deleted');

    const services = await createServices(loadConfig(deployment.env));
    try {
      const events = (await services.audit.list({ subjectId: account.id, limit: 20 })).map((e) => e.event).filter((e) => e.startsWith('service_account.'));
      assert.deepEqual(events, ['service_account.deleted', 'service_account.disabled', 'service_account.created']);
    } finally {
      await services.close();
    }
  });
});
