import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { createVerifier } from '../../packages/verify/src/index.js';
import { createServiceAccount, createServiceAccountKey, serviceAccountDeps } from '../../src/admin/service-accounts.js';
import { CLI_ACTOR } from '../../src/cli/cli-services.js';
import { TEST_PASSWORD } from '../support/test-app.js';
import { startListeningGatehouse, type ListeningGatehouse } from './support.js';

/**
 * Debian's interpreter, where `apt-get install python3-jwt python3-authlib python3-requests`
 * (.ci/run) puts the libraries; a python3 earlier on PATH (pyenv) would not see them.
 */
const PYTHON = process.env.GATEHOUSE_TEST_PYTHON ?? '/usr/bin/python3';

describe('interop: independent verifiers and clients accept what Gatehouse issues', () => {
  let server: ListeningGatehouse;
  before(async () => {
    server = await startListeningGatehouse();
  });
  after(() => server.close());

  test("jose's createRemoteJWKSet + jwtVerify verifies a server-issued token from the live JWKS", async () => {
    const { access_token } = await server.login('interop_jose');
    const jwks = createRemoteJWKSet(new URL(server.jwksUri));
    const { payload, protectedHeader } = await jwtVerify(access_token, jwks, {
      issuer: server.issuer,
      audience: server.audience,
      typ: 'at+jwt',
      algorithms: ['EdDSA', 'ES256', 'RS256'],
      requiredClaims: ['exp', 'iat', 'sub', 'jti', 'client_id'],
    });
    assert.equal(protectedHeader.typ, 'at+jwt');
    const principal = await createVerifier({ issuer: server.issuer, audience: server.audience, jwksUri: server.jwksUri }).verify(access_token);
    assert.equal(principal.subject, payload.sub, 'jose and the SDK agree');
    assert.equal(principal.tokenId, payload.jti);
  });

  // Not skipped when Python is missing: CI installs it (.ci/run), so its absence is a failure.
  test('Python: Authlib does the password and refresh_token grants, PyJWT PyJWKClient verifies both tokens', async () => {
    await server.login('interop_python');
    const script = fileURLToPath(new URL('./interop.py', import.meta.url));
    const { stdout } = await promisify(execFile)(PYTHON, [script, server.baseUrl, server.issuer, server.audience, 'interop_python', TEST_PASSWORD], {
      timeout: 30_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
    const first = result.password_grant as { typ: string; alg: string; sub: string; scope: string };
    assert.equal(first.typ, 'at+jwt');
    assert.equal(first.alg, 'EdDSA');
    assert.match(first.scope, /(^| )profile( |$)/);
    assert.equal((result.refresh_grant as { sub: string }).sub, (result.password_grant as { sub: string }).sub);
    assert.equal(result.token_type, 'Bearer');
    assert.equal(result.refresh_rotated, true);
    assert.equal(result.wrong_audience_refused, true);
  });

  test("Python: Authlib's client-credentials flow (client_secret_basic and client_secret_post) with a service account; PyJWT verifies the tokens", async () => {
    const deps = serviceAccountDeps(server.gatehouse.services);
    const { account } = await createServiceAccount(deps, CLI_ACTOR, { name: 'interop-bot', roles: [] });
    const { token: secret } = await createServiceAccountKey(deps, CLI_ACTOR, account.id, { name: 'authlib', scopes: ['profile'] });
    const script = fileURLToPath(new URL('./client-credentials-interop.py', import.meta.url));
    const { stdout } = await promisify(execFile)(PYTHON, [script, server.baseUrl, server.issuer, server.audience, account.id, secret], { timeout: 30_000 });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, Record<string, unknown> | string>;
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      const got = result[method] as Record<string, unknown>;
      assert.deepEqual(
        got,
        { typ: 'at+jwt', sub: account.id, client_id: account.id, scope: 'profile', sid: null, token_type: 'Bearer', refresh_token: null },
        method,
      );
    }
    assert.equal(result.wrong_secret, 'invalid_client');
  });
});
