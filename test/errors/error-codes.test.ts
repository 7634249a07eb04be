import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  ErrorCodes,
  GatehouseError,
  InsufficientScopeError,
  InvalidClientError,
  InvalidGrantError,
  InvalidRequestError,
  InvalidScopeError,
  InvalidTargetError,
  OAuthError,
  SERVER_FAULT_CODES,
  StoreUnavailableError,
  ThrottledError,
  UnauthorizedClientError,
  UnsupportedGrantTypeError,
  type ErrorCode,
} from '../../src/errors/errors.js';
import { HTTP_STATUS, isErrorCode, toErrorResponse } from '../../src/http/error-response.js';

const DOC_URL = new URL('../../docs/errors.md', import.meta.url);

interface DocRow {
  readonly status: number;
  /** The "At /auth/token" cell, e.g. "`invalid_grant` (400)" or "—". */
  readonly tokenEndpoint: string;
  readonly meaning: string;
}

/** Rows of the codes table: | `ERR_…` | status | at /auth/token | meaning |. */
function documentedCodes(): Map<string, DocRow> {
  const rows = new Map<string, DocRow>();
  for (const line of readFileSync(DOC_URL, 'utf8').split('\n')) {
    const match = /^\|\s*`(ERR_[A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|([^|]*)\|([^|]*)\|\s*$/.exec(line);
    if (match === null) continue;
    const [, code, status, tokenEndpoint, meaning] = match as unknown as [string, string, string, string, string];
    assert.ok(!rows.has(code), `${code} is documented twice`);
    rows.set(code, { status: Number(status), tokenEndpoint: tokenEndpoint.trim(), meaning: meaning.trim() });
  }
  return rows;
}

describe('error codes', () => {
  const documented = documentedCodes();

  test('codes are unique and named ERR_…', () => {
    assert.equal(new Set(ErrorCodes).size, ErrorCodes.length);
    for (const code of ErrorCodes) assert.match(code, /^ERR_[A-Z0-9_]+$/);
  });

  test('every code has an HTTP status and a title, and the table has no stray entries', () => {
    for (const code of ErrorCodes) {
      const entry = HTTP_STATUS[code];
      assert.ok(entry !== undefined, `${code} missing from HTTP_STATUS`);
      assert.ok(Number.isInteger(entry.status) && entry.status >= 400 && entry.status <= 599, `${code}: status ${entry.status}`);
      assert.ok(entry.title.length > 0);
      assert.ok(isErrorCode(code));
    }
    assert.deepEqual(Object.keys(HTTP_STATUS).sort(), [...ErrorCodes].sort());
    assert.equal(isErrorCode('ERR_MADE_UP'), false);
  });

  test('every code is documented in docs/errors.md with a meaning', () => {
    const undocumented = ErrorCodes.filter((c) => !documented.has(c));
    assert.deepEqual(undocumented, [], `undocumented: ${undocumented.join(', ')}`);
    for (const [code, row] of documented) assert.ok(row.meaning.length >= 10, `${code} has no meaning`);
  });

  test('docs/errors.md documents no code that does not exist', () => {
    const stale = [...documented.keys()].filter((c) => !isErrorCode(c));
    assert.deepEqual(stale, []);
  });

  test('the documented HTTP status is the one toErrorResponse sends', () => {
    for (const code of ErrorCodes) {
      // The challenge for insufficient_scope reads the subclass's requiredScopes.
      const error = code === 'ERR_INSUFFICIENT_SCOPE' ? new InsufficientScopeError(['profile'], 'x') : new GatehouseError(code, 'm');
      const response = toErrorResponse(error, 'problem', 'req-1');
      assert.equal(response.status, HTTP_STATUS[code].status);
      assert.equal(documented.get(code)?.status, response.status, `${code}: docs say ${documented.get(code)?.status}, server sends ${response.status}`);
      assert.equal(response.contentType, 'application/problem+json');
      assert.equal(response.body.code, code);
      assert.equal(response.body.request_id, 'req-1');
    }
  });

  test('the documented /auth/token error and status are the ones the OAuth errors send', () => {
    const oauthErrors: OAuthError[] = [
      new InvalidRequestError('x'),
      new InvalidGrantError('x'),
      new InvalidClientError('x'),
      new UnauthorizedClientError('x'),
      new UnsupportedGrantTypeError(),
      new InvalidScopeError('x'),
      new InvalidTargetError('x'),
    ];
    for (const error of oauthErrors) {
      const response = toErrorResponse(error, 'oauth', 'req-1');
      assert.equal(response.status, error.status);
      assert.deepEqual(response.body, { error: error.error, error_description: error.message });
      assert.equal(response.headers['cache-control'], 'no-store');
      assert.equal(documented.get(error.code)?.tokenEndpoint, `\`${error.error}\` (${error.status})`, error.code);
    }
  });

  test('5xx responses say nothing about the cause, in either style', () => {
    const secret = 'password_hash=$argon2id$v=19$… at Object.<anonymous> (/srv/app.ts:1:1)';
    for (const code of ['ERR_INTERNAL', 'ERR_STORE_UNAVAILABLE', 'ERR_CONFIG_INVALID'] satisfies ErrorCode[]) {
      const error = new GatehouseError(code, secret, { cause: new Error(secret) });
      for (const style of ['problem', 'oauth'] as const) {
        const body = JSON.stringify(toErrorResponse(error, style, 'req-1').body);
        assert.ok(!body.includes('argon2') && !body.includes('app.ts'), `${code}/${style}: ${body}`);
      }
    }
  });

  test("only the server's own faults capture a stack, and exactly the codes that answer 5xx are such faults", () => {
    for (const code of ErrorCodes) assert.equal(SERVER_FAULT_CODES.has(code), HTTP_STATUS[code].status >= 500, code);
    const frames = (error: Error) => (error.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).length;
    // A refusal's stack is its first line only; what the log of a 5xx needs keeps its frames.
    const refusal = new GatehouseError('ERR_NOT_FOUND', 'no such resource');
    assert.equal(refusal.stack, 'GatehouseError: no such resource');
    assert.equal(frames(new ThrottledError(1500, 'login')), 0);
    assert.ok(frames(new StoreUnavailableError('connection refused')) > 0);
    assert.ok(frames(new GatehouseError('ERR_INTERNAL', 'bug')) > 0);
    // The process-wide limit is restored, even after a constructor that skipped the capture.
    assert.ok(frames(new Error('plain')) > 0);
  });
});
