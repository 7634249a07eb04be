import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuditRecord } from '../../src/audit/audit-event.js';
import { createThrottleAuditor } from '../../src/audit/throttle-audit.js';
import { startTestApp } from '../support/test-app.js';

const context = (ip: string) => ({ ip, userAgent: 'ua', requestId: 'r' });

test('a flood of refusals writes one row per limit and address per window', async () => {
  let now = 0;
  const rows: AuditRecord[] = [];
  const audit = createThrottleAuditor({
    audit: { record: async (r) => void rows.push(r) },
    now: () => now,
    windowMs: 1_000,
    onError: (e) => assert.fail(String(e)),
  });
  for (let i = 0; i < 100; i++) audit(context('10.0.0.1'), 'LOGIN_IP');
  audit(context('10.0.0.2'), 'LOGIN_IP');
  audit(context('10.0.0.1'), 'REGISTER_IP');
  now = 999;
  audit(context('10.0.0.1'), 'LOGIN_IP');
  now = 1_000;
  audit(context('10.0.0.1'), 'LOGIN_IP');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    rows.map((r) => `${r.event} ${r.reason} ${r.ip} ${r.outcome}`),
    [
      'request.throttled LOGIN_IP 10.0.0.1 failure',
      'request.throttled LOGIN_IP 10.0.0.2 failure',
      'request.throttled REGISTER_IP 10.0.0.1 failure',
      'request.throttled LOGIN_IP 10.0.0.1 failure',
    ],
  );
});

test('the memory of recent refusals is bounded', async () => {
  const rows: AuditRecord[] = [];
  const audit = createThrottleAuditor({ audit: { record: async (r) => void rows.push(r) }, now: () => 0, maxKeys: 2, onError: (e) => assert.fail(String(e)) });
  audit(context('a'), 'L');
  audit(context('b'), 'L');
  audit(context('c'), 'L'); // evicts a
  audit(context('a'), 'L'); // written again, evicts b
  audit(context('c'), 'L'); // still remembered
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(
    rows.map((r) => r.ip),
    ['a', 'b', 'c', 'a'],
  );
});

test('over HTTP: throttled logins are audited once, without the attempted username', async () => {
  const t = await startTestApp({ env: { GATEHOUSE_LIMIT_LOGIN_USER_IP: '2/15m' } });
  try {
    await t.register('throttle-audited');
    const form = new URLSearchParams({ grant_type: 'password', username: 'throttle-audited', password: 'not the password at all' }).toString();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(
        (await t.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form })).statusCode,
      );
    }
    assert.deepEqual(statuses.slice(-2), [429, 429]);
    await new Promise((r) => setTimeout(r, 50));
    const throttled = await t.services.audit.list({ event: 'request.throttled', limit: 10 });
    assert.equal(throttled.length, 1);
    assert.equal(throttled[0]?.reason, 'LOGIN_USER_IP');
    assert.equal(throttled[0]?.ip, '127.0.0.1');
    assert.equal(throttled[0]?.subjectId, null);
    assert.ok(!JSON.stringify(throttled).includes('throttle-audited'));
  } finally {
    await t.close();
  }
});
