import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { ConfigError } from '../../src/errors/errors.js';
import { readResourceFile } from '../../src/oauth/resource-file.js';
import { createResourceRegistry, resourceIdentifierProblem, resourceProblems } from '../../src/oauth/resource-servers.js';
import { createScopeCatalogue } from '../../src/oauth/scope-catalogue.js';
import { startTestApp, TEST_ISSUER } from '../support/test-app.js';

const scopes = createScopeCatalogue();
const OWN = [TEST_ISSUER];

describe('resource identifiers (RFC 8707 §2: absolute URI, no fragment)', () => {
  test('absolute URIs are accepted, a query too (§2 only says SHOULD NOT)', () => {
    for (const ok of ['https://orders.example.com/', 'https://orders.example.com', 'urn:example:orders', 'https://api.example.com/v1?tenant=acme']) {
      assert.equal(resourceIdentifierProblem(ok), undefined, ok);
    }
  });
  test('malicious: a fragment, a relative reference, spaces, controls, non-ASCII and bad escapes are refused', () => {
    for (const bad of [
      'https://orders.example.com/#x',
      'https://orders.example.com/#',
      '/orders',
      'orders.example.com',
      '',
      ' https://a.example/',
      'https://a.example/ b',
      'https://a.example/\n',
      'https://exämple.com/',
      'https://a.example/%zz',
      'https:\\\\a.example',
      'x'.repeat(600),
    ]) {
      assert.notEqual(resourceIdentifierProblem(bad), undefined, JSON.stringify(bad));
    }
    assert.notEqual(resourceIdentifierProblem(42), undefined);
  });
});

describe('resource definitions: every problem, one line each', () => {
  test('unknown scope, duplicate, own audience, fragment, missing scopes, unknown field', () => {
    const problems = resourceProblems(
      [
        { identifier: 'https://a.example/', scopes: ['profile'] },
        { identifier: 'https://a.example/', scopes: ['profile'] },
        { identifier: TEST_ISSUER, scopes: ['profile'] },
        { identifier: 'https://b.example/#x', scopes: ['nope:read'] },
        { identifier: 'https://c.example/', scopes: [] },
        { identifier: 'https://d.example/', scopes: ['profile'], audience: 'x' },
        'https://e.example/',
      ],
      scopes,
      OWN,
    );
    assert.deepEqual(problems, [
      'resources[1].identifier: "https://a.example/" is registered twice',
      `resources[2].identifier: "${TEST_ISSUER}" is Gatehouse's own audience (GATEHOUSE_AUDIENCE)`,
      'resources[3].identifier: must not have a fragment (RFC 8707 §2)',
      'resources[3].scopes: "nope:read" is not a known scope',
      'resources[4].scopes: must be a non-empty list of scopes',
      'resources[5]: unknown field "audience"',
      'resources[6]: must be an object {"identifier", "scopes", "description"?}',
    ]);
  });
  test('the registry refuses them as a caller mistake (TypeError) and matches identifiers exactly', () => {
    assert.throws(() => createResourceRegistry([{ identifier: '/x', scopes: ['profile'] }], scopes, OWN), TypeError);
    const registry = createResourceRegistry([{ identifier: 'https://a.example/', scopes: ['profile', 'profile'] }], scopes, OWN);
    assert.deepEqual(registry.find('https://a.example/')?.scopes, ['profile']);
    assert.equal(registry.find('https://a.example'), undefined);
    assert.equal(registry.find('HTTPS://a.example/'), undefined);
  });
});

describe('GATEHOUSE_RESOURCES: the resource servers file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-resources-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const file = async (name: string, content: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, content);
    return path;
  };
  const problemsOf = async (path: string): Promise<readonly string[]> => {
    try {
      await readResourceFile(path, scopes, OWN);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      return error.problems;
    }
    assert.fail('the file was accepted');
  };

  test('a missing file, invalid JSON, the wrong shape: one line naming the variable', async () => {
    assert.deepEqual(await problemsOf(join(dir, 'absent.json')), [`GATEHOUSE_RESOURCES: cannot read ${join(dir, 'absent.json')} (ENOENT)`]);
    const broken = await file('broken.json', '{"resources": [');
    assert.deepEqual(await problemsOf(broken), [`GATEHOUSE_RESOURCES: ${broken} is not valid JSON`]);
    const list = await file('list.json', '[]');
    assert.deepEqual(await problemsOf(list), [`GATEHOUSE_RESOURCES: ${list} must be a document {"resources":[…]}`]);
  });

  test('every problem of the entries at once, prefixed with the variable', async () => {
    const path = await file(
      'bad.json',
      JSON.stringify({
        resources: [
          { identifier: 'orders', scopes: ['profile'] },
          { identifier: 'https://x.example/', scopes: ['nope'] },
        ],
        extra: true,
      }),
    );
    assert.deepEqual(await problemsOf(path), [
      'GATEHOUSE_RESOURCES: unknown field "extra"',
      'GATEHOUSE_RESOURCES: resources[0].identifier: must be an absolute URI (RFC 3986 §4.3)',
      'GATEHOUSE_RESOURCES: resources[1].scopes: "nope" is not a known scope',
    ]);
  });

  test('a valid file registers its resources: tokens for them carry their aud; a bad one stops startup', async () => {
    const path = await file(
      'ok.json',
      JSON.stringify({ resources: [{ identifier: 'https://inventory.example/', scopes: ['profile'], description: 'stock' }] }),
    );
    const t = await startTestApp({ env: { GATEHOUSE_RESOURCES: path } });
    try {
      await t.register('filed-fay');
      const { access_token } = await t.login('filed-fay', undefined, { resource: 'https://inventory.example/' });
      assert.equal(decodeJwt(access_token).aud, 'https://inventory.example/');
    } finally {
      await t.close();
    }
    const bad = await file('own.json', JSON.stringify({ resources: [{ identifier: TEST_ISSUER, scopes: ['profile'] }] }));
    await assert.rejects(startTestApp({ env: { GATEHOUSE_RESOURCES: bad } }), (error: unknown) => error instanceof ConfigError && error.problems.length === 1);
  });
});
