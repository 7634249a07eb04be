import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  automaticRotation,
  earliestActivation,
  earliestRetirement,
  KEY_CLOCK_TOLERANCE_SECONDS,
  KEY_PROPAGATION_MS,
  lifecycleTimings,
  transitionCutoffs,
} from '../../src/keys/key-lifecycle.js';

const LEAD = 300_000 + KEY_PROPAGATION_MS;
const RETIRE = (900 + KEY_CLOCK_TOLERANCE_SECONDS) * 1000 + KEY_PROPAGATION_MS;

const T0 = new Date('2030-01-01T00:00:00Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

describe('key lifecycle timings: computed from the JWKS max-age and the access-token lifetime', () => {
  const timings = lifecycleTimings({ jwksMaxAgeSeconds: 300, accessTokenTtlSeconds: 900 });

  test('a new key signs no sooner than one JWKS cache lifetime after every instance publishes it', () => {
    assert.equal(timings.publishLeadMs, LEAD);
    // Another instance may publish it only KEY_PROPAGATION_MS after the row is written (a lost
    // message, then its poll): a JWKS fetched from it just before still lacks the key for max-age.
    assert.ok(KEY_PROPAGATION_MS >= 5_000 + 1_000, 'covers the 5 s key-set poll with a margin');
    assert.ok(earliestActivation(timings, T0).getTime() - T0.getTime() >= 300 * 1000 + 5_000);
    // The store activates keys published at or before this cut-off: never a younger one.
    assert.equal(transitionCutoffs(timings, at(LEAD - 1)).publishedBefore < T0, true);
    assert.equal(transitionCutoffs(timings, at(LEAD)).publishedBefore.getTime(), T0.getTime());
  });

  test('a retiring key stays published one access-token lifetime plus the clock tolerance after its last signature', () => {
    assert.equal(timings.retireAfterMs, RETIRE);
    // A slow instance may still sign with it KEY_PROPAGATION_MS after the switch; its token lives TTL + tolerance.
    assert.ok(earliestRetirement(timings, T0).getTime() - T0.getTime() >= (900 + 30) * 1000 + 5_000);
    assert.ok(transitionCutoffs(timings, at(RETIRE - 1)).retiringBefore < T0);
    assert.equal(transitionCutoffs(timings, at(RETIRE)).retiringBefore.getTime(), T0.getTime());
  });

  test('other settings move the numbers with them', () => {
    const other = lifecycleTimings({ jwksMaxAgeSeconds: 60, accessTokenTtlSeconds: 120 });
    assert.equal(other.publishLeadMs, 60_000 + KEY_PROPAGATION_MS);
    assert.equal(other.retireAfterMs, 150_000 + KEY_PROPAGATION_MS);
  });

  test('automatic rotation: off by default; the successor is created one publish lead before the period ends', () => {
    assert.equal(automaticRotation(timings, T0, at(10 * 86_400_000)), undefined);
    const rotating = lifecycleTimings({ jwksMaxAgeSeconds: 300, accessTokenTtlSeconds: 900, rotationDays: 30 });
    const period = 30 * 86_400_000;
    assert.equal(automaticRotation(rotating, T0, at(period - LEAD - 1))?.due, false);
    const due = automaticRotation(rotating, T0, at(period - LEAD));
    assert.equal(due?.due, true);
    assert.equal(due?.activateAt.getTime(), at(period).getTime());
    // Late (every instance was down): still published a full lead before it signs.
    const late = automaticRotation(rotating, T0, at(period + 1000));
    assert.equal(late?.activateAt.getTime(), at(period + 1000 + LEAD).getTime());
  });
});
