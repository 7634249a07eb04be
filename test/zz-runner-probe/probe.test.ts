import { it } from 'node:test';
import assert from 'node:assert/strict';
it('fails on purpose', () => assert.equal(1, 2));
it('skipped on purpose', { skip: true }, () => {});
