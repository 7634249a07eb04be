import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { automaticRotation, earliestActivation, earliestRetirement, KEY_CLOCK_TOLERANCE_SECONDS, lifecycleTimings, transitionCutoffs } from '../../src/keys/key-lifecycle.js';

const T0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('key lifecycle timings: computed from the JWKS max-age and the access-token lifetime', () => {
  const timings = lifecycleTimings({ jwksMaxAgeSeconds: 300, accessTokenTtlSeconds: 900 });

  test('a new key signs no sooner than one JWKS cache lifetime after publication', () => {
    assert.equal(timings.publishLeadMs, 300_000);
    assert.ok(earliestActivation(timings, T0).getTime() - T0.getTime() >= 300 * 1000);
    // The store activates keys published at or before this cut-off: never one younger than max-age.
    assert.equal(transitionCutoffs(timings, at(299_999)).publishedBefore < T0, true);
    assert.equal(transitionCutoffs(timings, at(300_000)).publishedBefore.getTime(), T0.getTime());
  });

  test('a retiring key stays published one access-token lifetime plus the clock tolerance after its last signature', () => {
    assert.equal(timings.retireAfterMs, (900 + KEY_CLOCK_TOLERANCE_SECONDS) * 1000);
    assert.ok(earliestRetirement(timings, T0).getTime() - T0.getTime() >= 900 * 1000);
    assert.ok(transitionCutoffs(timings, at(929_999)).retiringBefore < T0);
    assert.equal(transitionCutoffs(timings, at(930_000)).retiringBefore.getTime(), T0.getTime());
  });

  test('other settings move the numbers with them', () => {
    const other = lifecycleTimings({ jwksMaxAgeSeconds: 60, accessTokenTtlSeconds: 120 });
    assert.equal(other.publishLeadMs, 60_000);
    assert.equal(other.retireAfterMs, 150_000);
  });

  test('automatic rotation: off by default; the successor is created one publish lead before the period ends', () => {
    assert.equal(automaticRotation(timings, T0, at(10 * 86_400_000)), undefined);
    const rotating = lifecycleTimings({ jwksMaxAgeSeconds: 300, accessTokenTtlSeconds: 900, rotationDays: 30 });
    const period = 30 * 86_400_000;
    assert.equal(automaticRotation(rotating, T0, at(period - 300_001))?.due, false);
    const due = automaticRotation(rotating, T0, at(period - 300_000));
    assert.equal(due?.due, true);
    assert.equal(due?.activateAt.getTime(), at(period).getTime());
    // Late (every instance was down): still published a full lead before it signs.
    const late = automaticRotation(rotating, T0, at(period + 1000));
    assert.equal(late?.activateAt.getTime(), at(period + 1000 + 300_000).getTime());
  });
});
