import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../support/test-app.js';

interface Response {
  description: string;
  headers?: Record<string, unknown>;
  content?: Record<string, { schema: { properties?: Record<string, unknown> } }>;
}
interface Operation {
  security?: Record<string, string[]>[];
  requestBody?: unknown;
  responses: Record<string, Response>;
}

/** The OAuth endpoints answer RFC 6749 §5.2 errors; everything else RFC 9457 problems. */
const OAUTH_FORM = new Set(['POST /auth/token', 'POST /auth/refresh', 'POST /auth/revoke']);

describe('OpenAPI: every status an operation can answer is documented, with its real content type and headers', () => {
  let t: TestApp;
  let operations: [string, Operation][];

  before(async () => {
    t = await startTestApp();
    const doc = (await t.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> };
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
    );
    assert.ok(operations.length >= 30, `${operations.length} operations`);
  });
  after(() => t.close());

  test('every operation documents 400, 404, 417, 429 and 503 with Retry-After, 431; protected ones 401 with WWW-Authenticate', () => {
    for (const [name, op] of operations) {
      for (const status of ['400', '404', '417', '429', '431', '503']) assert.ok(op.responses[status], `${name}: no ${status}`);
      for (const status of ['429', '503']) assert.ok(op.responses[status]?.headers?.['Retry-After'], `${name}: ${status} without Retry-After`);
      if (op.security !== undefined) assert.ok(op.responses['401']?.headers?.['WWW-Authenticate'], `${name}: protected, but no 401 with WWW-Authenticate`);
      if (op.security?.some((s) => Object.values(s).flat().length > 0)) assert.ok(op.responses['403'], `${name}: needs scopes, but no 403`);
      if (op.requestBody !== undefined) for (const status of ['413', '415']) assert.ok(op.responses[status], `${name}: takes a body, but no ${status}`);
    }
  });

  test('errors are application/problem+json, or application/json with error/error_description at the OAuth endpoints', () => {
    for (const [name, op] of operations) {
      for (const [status, response] of Object.entries(op.responses).filter(([s]) => /^[45]/.test(s))) {
        const types = Object.keys(response.content ?? {});
        if (OAUTH_FORM.has(name)) {
          assert.deepEqual(types, ['application/json'], `${name} ${status}`);
          assert.ok(response.content?.['application/json']?.schema.properties?.error, `${name} ${status}: no error member`);
        } else {
          assert.deepEqual(types, ['application/problem+json'], `${name} ${status}`);
          assert.ok(response.content?.['application/problem+json']?.schema.properties?.code, `${name} ${status}: not the problem shape`);
        }
      }
    }
  });

  test('no response is described as "Default Response"', () => {
    for (const [name, op] of operations) {
      for (const [status, response] of Object.entries(op.responses)) {
        assert.ok(response.description.length > 0 && response.description !== 'Default Response', `${name} ${status}: ${JSON.stringify(response.description)}`);
      }
    }
  });
});
