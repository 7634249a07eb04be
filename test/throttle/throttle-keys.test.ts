import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressKey, throttleKey } from '../../src/throttle/throttle-keys.js';

describe('addressKey', () => {
  test('MALICIOUS: every address of one IPv6 /64 is one client', () => {
    const keys = [
      '2001:db8:1:2::1',
      '2001:db8:1:2:ffff:ffff:ffff:ffff',
      '2001:0db8:0001:0002:dead:beef:0:1',
      '2001:DB8:1:2::abcd',
      '2001:db8:1:2:0:0:1.2.3.4',
    ].map(addressKey);
    assert.deepEqual(new Set(keys), new Set(['2001:db8:1:2::/64']));
  });

  test('different /64s, and different IPv4 addresses, are different clients', () => {
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
    assert.notEqual(addressKey('203.0.113.1'), addressKey('203.0.113.2'));
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1'), 'fe80:0:0:0::/64');
  });

  test('MALICIOUS: an IPv4-mapped IPv6 address is its IPv4 address; a zone id changes nothing', () => {
    assert.equal(addressKey('::ffff:203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('::FFFF:203.0.113.7'), '203.0.113.7');
    assert.equal(addressKey('fe80::1%eth0'), addressKey('fe80::1'));
    assert.equal(addressKey('203.0.113.7'), '203.0.113.7');
  });
});

describe('throttleKey', () => {
  test('the raw username and address never appear in the key', () => {
    const key = throttleKey('user-ip', 'alice', '203.0.113.7');
    assert.match(key, /^[A-Za-z0-9_-]{22}$/);
    assert.ok(!key.includes('alice') && !key.includes('203'));
  });

  test('deterministic, and parts cannot be shifted into one another', () => {
    assert.equal(throttleKey('user', 'alice'), throttleKey('user', 'alice'));
    assert.notEqual(throttleKey('user', 'ab', 'c'), throttleKey('user', 'a', 'bc'));
    assert.notEqual(throttleKey('user', 'alice'), throttleKey('account', 'alice'));
  });
});
