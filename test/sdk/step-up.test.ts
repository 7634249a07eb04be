import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { gatehouseFastify } from '../../packages/verify/src/adapters/fastify.js';
import { createVerifier, type Verifier } from '../../packages/verify/src/index.js';
import { claims, sign, testKey, type TestKey } from './support.js';

/**
 * RFC 9470 in the SDK: the verifier reads `amr`, `acr` and `auth_time` strictly, and a route's
 * `authentication` check refuses with the step-up challenge, as the server's guard does.
 */
let key: TestKey;
let verifier: Verifier;
let app: FastifyInstance;
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  key = await testKey();
  verifier = createVerifier({ issuer: claims().iss as string, audience: claims().aud as string, jwks: { keys: [key.publicJwk] } });
  app = Fastify();
  await app.register(gatehouseFastify, { verifier });
  app.get('/transfer', { config: { gatehouse: { authentication: { aal: 2, maxAge: 300 } } } }, async (request) => ({
    amr: request.gatehouse?.authentication?.methods,
  }));
  app.get('/recent', { config: { gatehouse: { authentication: { aal: 1, maxAge: 60 } } } }, async () => ({ ok: true }));
  await app.ready();
});
after(() => app.close());

const get = async (url: string, token: string) => app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

describe('SDK: malformed authentication claims are invalid tokens', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['amr not a list', { amr: 'pwd', auth_time: now() }],
    ['amr an empty list', { amr: [], auth_time: now() }],
    ['amr with a non-string', { amr: ['pwd', 1], auth_time: now() }],
    ['amr without auth_time', { amr: ['pwd', 'otp'] }],
    ['auth_time without amr', { auth_time: now() }],
    ['auth_time not a whole number', { amr: ['pwd'], auth_time: now() - 0.5 }],
    ['acr not a string', { amr: ['pwd'], auth_time: now(), acr: 2 }],
  ];
  for (const [name, extra] of cases) {
    test(`malicious: ${name}`, async () => {
      const res = await get('/transfer', await sign(key, claims(extra)));
      assert.equal(res.statusCode, 401);
      assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
    });
  }
});

describe('SDK: the step-up check (RFC 9470 §3)', () => {
  const challenge = (res: { headers: Record<string, unknown> }) => String(res.headers['www-authenticate']);

  test('malicious: a password-only token on an AAL2 route gets insufficient_user_authentication with acr_values and max_age', async () => {
    const res = await get('/transfer', await sign(key, claims({ amr: ['pwd'], acr: 'urn:gatehouse:aal1', auth_time: now() })));
    assert.equal(res.statusCode, 401);
    assert.equal(res.json<{ code: string }>().code, 'ERR_STEP_UP_REQUIRED');
    assert.match(challenge(res), /^Bearer realm="api", error="insufficient_user_authentication", acr_values="urn:gatehouse:aal2", max_age=300$/);
  });

  test('malicious: an acr claiming aal2 over password-only amr is not believed (the level comes from amr)', async () => {
    const res = await get('/transfer', await sign(key, claims({ amr: ['pwd'], acr: 'urn:gatehouse:aal2', auth_time: now() })));
    assert.equal(res.statusCode, 401);
  });

  test('malicious: two factors, but authenticated longer ago than max_age', async () => {
    const res = await get('/transfer', await sign(key, claims({ amr: ['pwd', 'otp'], auth_time: now() - 301 })));
    assert.equal(res.statusCode, 401);
    assert.match(challenge(res), /insufficient_user_authentication/);
  });

  test('malicious: a token without authentication facts (client credentials) never satisfies it', async () => {
    const res = await get('/recent', await sign(key, claims({ sid: undefined })));
    assert.equal(res.statusCode, 401);
    assert.match(challenge(res), /acr_values="urn:gatehouse:aal1", max_age=60/);
  });

  test('password + TOTP within max_age, or a passkey with user verification, pass', async () => {
    const otp = await get('/transfer', await sign(key, claims({ amr: ['pwd', 'otp'], auth_time: now() - 200 })));
    assert.equal(otp.statusCode, 200, otp.body);
    assert.deepEqual(otp.json(), { amr: ['pwd', 'otp'] });
    const passkey = await get('/transfer', await sign(key, claims({ amr: ['hwk', 'user'], auth_time: now() })));
    assert.equal(passkey.statusCode, 200, passkey.body);
  });

  test('a misspelt requirement fails when the route is declared, not on the first request', async () => {
    const bad = Fastify();
    await bad.register(gatehouseFastify, { verifier });
    await assert.rejects(async () => {
      bad.get('/x', { config: { gatehouse: { authentication: { aal: 2, max_age: 300 } as never } } }, async () => ({}));
      await bad.ready();
    }, /authentication has unknown keys: max_age/);
    await bad.close();
  });
});
