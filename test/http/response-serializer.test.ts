import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { z } from 'zod';
import { responseSerializerCompiler } from '../../src/http/response-serializer.js';
import { problemSchema } from '../../src/http/routes/problem-schema.js';
import { userViewSchema } from '../../src/http/routes/user-view.js';

/** A Fastify app whose one route answers `reply` under `schema`, written by our compiler. */
async function serve(schema: z.ZodType, reply: unknown, status = 200) {
  const app = Fastify({ logger: false });
  app.setSerializerCompiler(responseSerializerCompiler);
  app.get('/x', { schema: { response: { [status]: schema } } }, async (_request, res) => res.code(status).send(reply));
  await app.ready();
  try {
    return await app.inject({ method: 'GET', url: '/x' });
  } finally {
    await app.close();
  }
}

const user = { id: '0965ff3c-81b9-46e8-9fd4-d070d5f01cdc', username: 'ada', email: null, email_verified: false, created_at: '2026-12-07T11:42:30.492Z' };

describe('replies written by the compiled serializer', () => {
  test('malicious: a property the schema does not declare never reaches the client, at any depth', async () => {
    const schema = z.object({ user: userViewSchema, sessions: z.array(z.object({ id: z.string() })) });
    const res = await serve(schema, {
      user: { ...user, password_hash: '$argon2id$v=19$secret-hash' },
      sessions: [{ id: 's1', cookie_secret_digest: 'digest-of-the-cookie' }],
      token_version: 7,
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(JSON.parse(res.body), { user, sessions: [{ id: 's1' }] });
    for (const leaked of ['argon2id', 'digest-of-the-cookie', 'token_version']) assert.ok(!res.body.includes(leaked), leaked);
  });

  test('malicious: a reply missing a required property fails as a 500 and shows nothing of itself', async () => {
    const { username: _dropped, ...partial } = user;
    const res = await serve(userViewSchema, { ...partial, email: 'ada@example.test' });
    assert.equal(res.statusCode, 500);
    assert.ok(!res.body.includes('ada@example.test'), res.body);
  });

  test('null stays null, an absent optional stays absent, and the body is what JSON.stringify of the checked value gives', async () => {
    const schema = z.object({ a: z.string().nullable(), b: z.number().optional(), c: z.array(z.string()), d: z.record(z.string(), z.number()) });
    const value = { a: null, c: ['x', 'y"z'], d: { one: 1 } };
    const res = await serve(schema, value);
    assert.equal(res.body, JSON.stringify(schema.parse(value)));
    const problem = {
      type: 'urn:gatehouse:error:ERR_NOT_FOUND',
      title: 'Not found',
      status: 404,
      code: 'ERR_NOT_FOUND',
      detail: 'no such resource',
      request_id: 'r1',
    };
    const refused = await serve(problemSchema, problem, 404);
    assert.deepEqual(JSON.parse(refused.body), problemSchema.parse(problem));
  });

  test('a schema JSON Schema cannot express fails when the route is registered, not on a request', async () => {
    const app = Fastify({ logger: false });
    app.setSerializerCompiler(responseSerializerCompiler);
    app.get('/x', { schema: { response: { 200: z.object({ n: z.string().transform((s) => s.length) }) } } }, async () => ({ n: 'abc' }));
    await assert.rejects(async () => {
      await app.ready();
    }, /serializ/i);
    await app.close();
  });

  test('a 204 declared as void has no body', async () => {
    const res = await serve(z.void(), undefined, 204);
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
  });
});
