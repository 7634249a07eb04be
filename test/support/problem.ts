import assert from 'node:assert/strict';

/** A stack frame as V8 prints it, or a serialised `stack` property. */
export const STACK = /"stack"|\n\s*at \S|\bat [\w.<>]+ \(|node:internal|\.ts:\d+:\d+/;

/** The checks every problem response must pass, beyond its status and code. */
export function assertWellFormedProblem(status: number, headers: Record<string, unknown>, text: string, expectedStatus: number, code: string): void {
  assert.equal(status, expectedStatus, text);
  assert.match(String(headers['content-type']), /^application\/problem\+json\b/);
  assert.doesNotMatch(text, STACK);
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.equal(body.code, code);
  assert.equal(body.status, expectedStatus);
  assert.equal(body.type, `urn:gatehouse:error:${code}`);
  assert.equal(typeof body.title, 'string');
  assert.equal(typeof body.detail, 'string');
  const requestId = headers['x-request-id'];
  assert.equal(typeof requestId, 'string');
  assert.equal(body.request_id, requestId);
}

/** helmet's headers, as every Gatehouse answer carries them (src/http/security-headers.ts). */
export function assertSecurityHeaders(headers: Record<string, unknown>): void {
  assert.match(String(headers['content-security-policy']), /frame-ancestors 'none'/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  assert.match(String(headers['strict-transport-security']), /max-age=\d+/);
  assert.equal(headers['x-frame-options'], 'SAMEORIGIN');
  assert.equal(headers['referrer-policy'], 'no-referrer');
}
