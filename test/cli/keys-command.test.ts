import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { UsageError } from '../../src/cli/arguments.js';
import type { CliIo } from '../../src/cli/cli-services.js';
import { keysCommand } from '../../src/cli/keys-command.js';
import { reportError } from '../../src/cli/report-error.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices } from '../../src/services.js';
import { lines, runCli, tempDeployment } from './cli-process.js';

interface KeyJson {
  kid: string;
  alg: string;
  state: string;
  activate_at: string | null;
}

function fakeIo(env: Record<string, string>): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdin: new PassThrough(),
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env,
    out: () => out,
    err: () => err,
  };
}

/** Runs the command in process the way main.ts does: known errors become one line and an exit code. */
async function run(argv: string[], env: Record<string, string>): Promise<{ status: number; stdout: string; stderr: string }> {
  const io = fakeIo(env);
  const status = await keysCommand(argv, io).catch((error: unknown) => reportError(error, io));
  return { status, stdout: io.out(), stderr: io.err() };
}

async function list(env: Record<string, string>): Promise<KeyJson[]> {
  const result = await run(['list', '--all', '--json'], env);
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as KeyJson[];
}

describe('gatehouse keys (stored keys, a PGlite database on disk)', () => {
  let deployment: Awaited<ReturnType<typeof tempDeployment>>;
  let env: Record<string, string>;
  before(async () => {
    deployment = await tempDeployment();
    env = { ...deployment.env, GATEHOUSE_KEY_SOURCE: 'store' };
  });
  after(() => deployment.cleanup());

  test('malicious: revoking the only active key without --replace is refused (exit 1) and changes nothing', async () => {
    const [active] = await list(env);
    assert.equal(active?.state, 'active');
    const refused = await run(['revoke', active!.kid], env);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /only active key: add --replace/);
    assert.deepEqual(await list(env), [active]);
  });

  test('malicious: symmetric and unknown algorithms and short RSA keys are usage errors, before any store is opened', async () => {
    const io = fakeIo(env);
    for (const argv of [
      ['create', '--alg', 'HS256'],
      ['create', '--alg', 'none'],
      ['create', '--alg', 'RS256', '--rsa-bits', '1024'],
      ['rotate', '--rsa-bits', '4096'],
      ['rotate', 'kid', '--alg', 'ES256'],
      ['retire'],
      ['revoke'],
      ['frobnicate'],
      [],
    ]) {
      await assert.rejects(keysCommand(argv, io), UsageError, argv.join(' '));
    }
  });

  test('a kid that starts with "-" (a thumbprint does, one time in 64) is a kid, not an option bundle', async () => {
    const kid = `-${'A'.repeat(42)}`;
    for (const sub of [
      ['retire', kid],
      ['rotate', kid, '--json'],
      ['revoke', kid, '--replace'],
    ]) {
      const res = await run(sub, env);
      assert.notEqual(res.status, 2, `${sub.join(' ')}: ${res.stderr}`);
      assert.doesNotMatch(res.stderr, /unknown option/);
    }
  });

  test('--help on every subcommand: exit 0, the usage and the exit codes', async () => {
    for (const sub of ['list', 'create', 'rotate', 'retire', 'revoke']) {
      const io = fakeIo(env);
      assert.equal(await keysCommand([sub, '--help'], io), 0);
      assert.match(io.out(), new RegExp(`^usage: gatehouse keys ${sub}`), sub);
      assert.match(io.out(), /2 {2}usage/, sub);
    }
  });

  test('create, rotate <kid>, retire, revoke --replace: the timeline, audited with the CLI as actor', async () => {
    const created = await run(['create', '--alg', 'ES256', '--json'], env);
    assert.equal(created.status, 0, created.stderr);
    const standby = JSON.parse(created.stdout) as KeyJson;
    assert.deepEqual([standby.alg, standby.state, standby.activate_at], ['ES256', 'pending', null]);

    const rotated = await run(['rotate', standby.kid, '--json'], env);
    assert.equal(rotated.status, 0, rotated.stderr);
    assert.notEqual((JSON.parse(rotated.stdout) as KeyJson).activate_at, null);
    const again = await run(['rotate'], env);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already scheduled/);

    const extra = JSON.parse((await run(['create', '--json'], env)).stdout) as KeyJson;
    assert.equal((await run(['retire', extra.kid], env)).stdout, `retired ${extra.kid}\n`);
    assert.equal((await run(['retire', 'no-such-kid'], env)).status, 3);

    const active = (await list(env)).find((k) => k.state === 'active')!;
    const retireActive = await run(['retire', active.kid], env);
    assert.equal(retireActive.status, 1);
    assert.match(retireActive.stderr, /is the active key: run gatehouse keys rotate/);

    const revoked = await run(['revoke', active.kid, '--replace'], env);
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.equal(revoked.stdout, `revoked ${active.kid}; ${standby.kid} signs now\n`);
    const after = await list(env);
    assert.equal(after.find((k) => k.kid === active.kid)?.state, 'revoked');
    assert.equal(after.find((k) => k.kid === standby.kid)?.state, 'active');

    const services = await createServices(loadConfig(env));
    try {
      assert.equal(services.keySet().signer.kid, standby.kid);
      assert.equal(services.keySet().find(active.kid), undefined);
      const trail = (await services.audit.list({ limit: 100 })).filter((r) => r.event.startsWith('key.'));
      const byCli = trail.filter((r) => r.userAgent === 'gatehouse-cli');
      assert.deepEqual(
        [...new Set(byCli.map((r) => r.event))].sort(),
        ['key.activated', 'key.created', 'key.retired', 'key.retiring', 'key.revoked', 'key.scheduled'].filter((e) => byCli.some((r) => r.event === e)).sort(),
      );
      for (const event of ['key.created', 'key.scheduled', 'key.revoked'])
        assert.ok(
          byCli.some((r) => r.event === event),
          event,
        );
      assert.ok(trail.every((r) => r.actorId === null));
    } finally {
      await services.close();
    }
  });

  test('the real entry point: keys list prints the table; file-based keys are refused with one line, exit 1', async () => {
    const listed = await runCli(['keys', 'list'], { env });
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /^KID +ALG +STATE +WHEN\n/);
    const fileBased = await runCli(['keys', 'list'], { env: deployment.env });
    assert.equal(fileBased.status, 1);
    assert.deepEqual(lines(fileBased.stderr), [
      'gatehouse: signing keys come from the generated development file; set GATEHOUSE_KEY_SOURCE=store to keep them in the store and manage them here',
    ]);
  });
});
