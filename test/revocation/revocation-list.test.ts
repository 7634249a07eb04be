import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeEntries, encodeEntries, type RevocationEntry } from '../../src/revocation/revocation-entry.js';
import { RevocationList } from '../../src/revocation/revocation-list.js';
import { apiKeyRevocationId, type RevocableClaims } from '@gatehouse/verify/internal';

type Claims = RevocableClaims;

const NOW = Date.parse('2030-03-01T12:00:00Z');
const LATER = NOW + 60_000;
const USER = '0b3c8f2e-1d4a-4c55-9a0e-7f1b2c3d4e5f';
const OTHER_USER = '7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d';

/** A token of USER in session "sid-live", tver 0, unless told otherwise. */
const claims = (overrides: Partial<Claims> = {}): Claims => ({ jti: 'jti-live', sid: 'sid-live', sub: USER, tver: 0, ...overrides });

const listOf = (...entries: RevocationEntry[]): RevocationList => {
  const list = new RevocationList();
  for (const entry of entries) list.add(entry);
  return list;
};

const revoked = (list: RevocationList, c: Claims, at = NOW): boolean => list.reasonRevoked(c, at) !== undefined;

describe('RevocationList', () => {
  describe('malicious cases', () => {
    test('a token id presented as a session id (or a session id as a jti) is not confused', () => {
      // Kinds live in separate maps: a jti that happens to equal a revoked sid is not revoked, and vice versa.
      const list = listOf({ kind: 'token', id: 'shared-id', until: LATER }, { kind: 'session', id: 'other-sid', until: LATER });
      assert.equal(revoked(list, claims({ sid: 'shared-id' })), false, 'a token entry must not match a sid');
      assert.equal(revoked(list, claims({ jti: 'other-sid' })), false, 'a session entry must not match a jti');
      assert.equal(revoked(list, claims({ sub: 'shared-id' })), false, 'a token entry must not match a sub');
      assert.equal(revoked(list, claims({ jti: 'shared-id' })), true);
      assert.equal(revoked(list, claims({ sid: 'other-sid' })), true);
    });

    test('a later duplicate with an earlier `until` does not shorten a token or session revocation', () => {
      // A stale pub/sub message (or an old DB row) arriving after a fresh one must never un-revoke.
      const list = listOf(
        { kind: 'token', id: 'jti-1', until: LATER },
        { kind: 'token', id: 'jti-1', until: NOW - 1 },
        { kind: 'session', id: 'sid-1', until: LATER },
        { kind: 'session', id: 'sid-1', until: NOW - 1 },
      );
      assert.equal(revoked(list, claims({ jti: 'jti-1' })), true);
      assert.equal(revoked(list, claims({ sid: 'sid-1' })), true);
    });

    test('a lower token version arriving after a higher one does not lower the bar', () => {
      const list = listOf({ kind: 'user', id: USER, version: 3, until: LATER }, { kind: 'user', id: USER, version: 1, until: LATER });
      assert.equal(revoked(list, claims({ tver: 2 })), true, 'tver 2 < 3 stays revoked');
      assert.equal(revoked(list, claims({ tver: 3 })), false);
    });

    test('a higher version with an earlier `until` keeps the later end of the lower one', () => {
      // tver 1 is revoked by version 2 until LATER; learning about version 3 must not end that early.
      const list = listOf({ kind: 'user', id: USER, version: 2, until: LATER }, { kind: 'user', id: USER, version: 3, until: NOW + 1000 });
      assert.equal(revoked(list, claims({ tver: 1 }), NOW + 5000), true);
      assert.equal(revoked(list, claims({ tver: 2 }), NOW + 500), true, 'version 3 applies');
    });

    test('a token without `tver` counts as version 0, so any bump revokes it', () => {
      const list = listOf({ kind: 'user', id: USER, version: 1, until: LATER });
      const { tver: _ignored, ...withoutTver } = claims();
      assert.equal(revoked(list, withoutTver), true);
    });

    test('adding never un-revokes: for random entry sequences, each entry alone implies the whole list', () => {
      // Deterministic LCG, so a failure reproduces.
      let seed = 0x2545f491;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      const ids = ['a', 'b', 'c'];
      const users = [USER, OTHER_USER];
      const randomEntry = (): RevocationEntry => {
        const until = NOW + (rand(5) - 1) * 1000;
        switch (rand(3)) {
          case 0:
            return { kind: 'token', id: ids[rand(3)] as string, until };
          case 1:
            return { kind: 'session', id: ids[rand(3)] as string, until };
          default:
            return { kind: 'user', id: users[rand(2)] as string, version: 1 + rand(4), until };
        }
      };
      const probes: Claims[] = [];
      for (const jti of ids)
        for (const sid of [...ids, undefined])
          for (const sub of users)
            for (const tver of [0, 1, 2, 3, 4, undefined]) probes.push({ jti, sub, ...(sid !== undefined && { sid }), ...(tver !== undefined && { tver }) });
      for (let round = 0; round < 200; round++) {
        const entries = Array.from({ length: 1 + rand(6) }, randomEntry);
        const list = listOf(...entries);
        for (const entry of entries) {
          const single = listOf(entry);
          for (const at of [NOW - 1, NOW, NOW + 1500, NOW + 3500]) {
            for (const probe of probes) {
              if (revoked(single, probe, at)) {
                assert.ok(
                  revoked(list, probe, at),
                  `round ${round}: ${JSON.stringify(entry)} revokes ${JSON.stringify(probe)} at ${at - NOW} alone but not within ${JSON.stringify(entries)}`,
                );
              }
            }
          }
        }
      }
    });
  });

  describe('what each kind revokes', () => {
    test('token: exactly the token with that jti', () => {
      const list = listOf({ kind: 'token', id: 'jti-1', until: LATER });
      assert.equal(list.reasonRevoked(claims({ jti: 'jti-1' }), NOW), 'access token revoked');
      assert.equal(revoked(list, claims({ jti: 'jti-2' })), false, 'another token of the same session and user is untouched');
    });

    test('session: every token with that sid, none without it', () => {
      const list = listOf({ kind: 'session', id: 'sid-1', until: LATER });
      assert.equal(list.reasonRevoked(claims({ jti: 'a', sid: 'sid-1' }), NOW), 'session revoked');
      assert.equal(revoked(list, claims({ jti: 'b', sid: 'sid-1' })), true);
      assert.equal(revoked(list, claims({ sid: 'sid-2' })), false);
      assert.equal(revoked(list, { jti: 'c', sub: USER, tver: 0 }), false, 'a token without a sid');
    });

    test('user: tver below the version is revoked, equal or above is not, other users untouched', () => {
      const list = listOf({ kind: 'user', id: USER, version: 2, until: LATER });
      assert.equal(list.reasonRevoked(claims({ tver: 0 }), NOW), 'tokens of the user revoked (token version)');
      assert.equal(revoked(list, claims({ tver: 1 })), true);
      assert.equal(revoked(list, claims({ tver: 2 })), false, 'a token issued after the bump');
      assert.equal(revoked(list, claims({ tver: 3 })), false);
      assert.equal(revoked(list, claims({ sub: OTHER_USER, tver: 0 })), false);
    });

    test('api key: every token granted with the key (akid), none of another key, none without one', () => {
      const list = listOf({ kind: 'token', id: apiKeyRevocationId('k1'), until: LATER });
      assert.equal(list.reasonRevoked(claims({ akid: 'k1' }), NOW), 'api key of the token revoked');
      assert.equal(revoked(list, claims({ jti: 'another', akid: 'k1' })), true);
      assert.equal(revoked(list, claims({ akid: 'k2' })), false, 'a token of another key');
      assert.equal(revoked(list, claims()), false, 'a token granted with no key');
      assert.equal(revoked(list, claims({ jti: 'k1' })), false, 'the key id is no jti');
      assert.equal(revoked(list, claims({ akid: 'k1' }), LATER), false, 'the entry ends at until');
    });

    test('an empty list revokes nothing', () => {
      assert.equal(new RevocationList().reasonRevoked(claims(), NOW), undefined);
    });
  });

  describe('expiry and pruning', () => {
    test('an entry whose `until` is at or before now revokes nothing; one millisecond before, it does', () => {
      const entries: [RevocationEntry, Claims][] = [
        [{ kind: 'token', id: 'jti-1', until: NOW }, claims({ jti: 'jti-1' })],
        [{ kind: 'session', id: 'sid-1', until: NOW }, claims({ sid: 'sid-1' })],
        [{ kind: 'user', id: USER, version: 1, until: NOW }, claims({ tver: 0 })],
      ];
      for (const [entry, c] of entries) {
        const list = listOf(entry);
        assert.equal(revoked(list, c, NOW), false, `${entry.kind} at until`);
        assert.equal(revoked(list, c, NOW + 1), false, `${entry.kind} after until`);
        assert.equal(revoked(list, c, NOW - 1), true, `${entry.kind} before until`);
      }
    });

    test('prune drops entries at or past `until` and keeps the rest', () => {
      const list = listOf(
        { kind: 'token', id: 'old', until: NOW },
        { kind: 'token', id: 'new', until: LATER },
        { kind: 'session', id: 'old', until: NOW - 1 },
        { kind: 'session', id: 'new', until: LATER },
        { kind: 'user', id: USER, version: 1, until: NOW },
        { kind: 'user', id: OTHER_USER, version: 1, until: LATER },
      );
      assert.equal(list.size, 6);
      list.prune(NOW);
      assert.equal(list.size, 3);
      assert.equal(revoked(list, claims({ jti: 'new' })), true);
      assert.equal(revoked(list, claims({ sid: 'new' })), true);
      assert.equal(revoked(list, claims({ sub: OTHER_USER })), true);
      // Even asked about an earlier time, pruned entries are gone.
      assert.equal(revoked(list, claims({ jti: 'old' }), NOW - 10), false);
      assert.equal(revoked(list, claims({ sid: 'old' }), NOW - 10), false);
      assert.equal(revoked(list, claims(), NOW - 10), false);
      list.prune(LATER);
      assert.equal(list.size, 0);
    });
  });

  describe('merging', () => {
    test('duplicate adds are harmless: one entry, still revoked', () => {
      const entry: RevocationEntry = { kind: 'session', id: 'sid-1', until: LATER };
      const list = listOf(entry, entry, { ...entry });
      assert.equal(list.size, 1);
      assert.equal(revoked(list, claims({ sid: 'sid-1' })), true);
    });

    test('the same version again with a later `until` extends it', () => {
      const list = listOf({ kind: 'user', id: USER, version: 2, until: NOW + 1000 }, { kind: 'user', id: USER, version: 2, until: LATER });
      assert.equal(list.size, 1);
      assert.equal(revoked(list, claims({ tver: 1 }), NOW + 5000), true);
    });

    test('a higher version replaces a lower one', () => {
      const list = listOf({ kind: 'user', id: USER, version: 1, until: LATER }, { kind: 'user', id: USER, version: 4, until: LATER });
      assert.equal(list.size, 1);
      assert.equal(revoked(list, claims({ tver: 3 })), true);
      assert.equal(revoked(list, claims({ tver: 4 })), false);
    });
  });
});

describe('decodeEntries', () => {
  const valid: RevocationEntry[] = [
    { kind: 'token', id: 'jti-1', until: LATER },
    { kind: 'session', id: 'sid-1', until: LATER },
    { kind: 'user', id: USER, version: 3, until: LATER },
  ];

  test('round-trips encodeEntries', () => {
    assert.deepEqual(decodeEntries(encodeEntries(valid)), valid);
    assert.deepEqual(decodeEntries(encodeEntries([])), []);
  });

  describe('malicious cases: garbage yields no entries and never throws', () => {
    const wholeMessages: [string, string][] = [
      ['not JSON', '{"kind":'],
      ['empty string', ''],
      ['a JSON object', JSON.stringify(valid[0])],
      ['a JSON string', JSON.stringify(encodeEntries(valid))],
      ['a number', '42'],
      ['null', 'null'],
      ['a deeply nested array', '['.repeat(5000) + ']'.repeat(5000)],
      ['invalid UTF-16 surrogates', '["\ud800"]'],
    ];
    for (const [label, message] of wholeMessages) {
      test(label, () => {
        assert.deepEqual(decodeEntries(message), []);
      });
    }

    test('more than 10,000 entries: the whole message is refused; exactly 10,000 is accepted', () => {
      const many = (n: number): string => encodeEntries(Array.from({ length: n }, (_, i) => ({ kind: 'token' as const, id: `jti-${i}`, until: LATER })));
      assert.equal(decodeEntries(many(10_000)).length, 10_000);
      assert.deepEqual(decodeEntries(many(10_001)), []);
    });

    const badEntries: [string, unknown][] = [
      ['unknown kind', { kind: 'everyone', id: 'x', until: LATER }],
      ['kind in another case', { kind: 'Session', id: 'x', until: LATER }],
      ['no kind', { id: 'x', until: LATER }],
      ['user version 0', { kind: 'user', id: USER, version: 0, until: LATER }],
      ['user version negative', { kind: 'user', id: USER, version: -1, until: LATER }],
      ['user version a float', { kind: 'user', id: USER, version: 1.5, until: LATER }],
      ['user version a string', { kind: 'user', id: USER, version: '2', until: LATER }],
      ['user version beyond safe integers', { kind: 'user', id: USER, version: 2 ** 53, until: LATER }],
      ['user without version', { kind: 'user', id: USER, until: LATER }],
      ['id of 129 characters', { kind: 'session', id: 'x'.repeat(129), until: LATER }],
      ['empty id', { kind: 'token', id: '', until: LATER }],
      ['numeric id', { kind: 'token', id: 7, until: LATER }],
      ['until a string', { kind: 'token', id: 'x', until: String(LATER) }],
      ['until missing', { kind: 'token', id: 'x' }],
      ['null', null],
      ['a string', 'session'],
      ['an array', ['session', 'x', LATER]],
    ];
    for (const [label, entry] of badEntries) {
      test(`entry refused, valid neighbours kept: ${label}`, () => {
        const message = JSON.stringify([valid[0], entry, valid[1]]);
        assert.deepEqual(decodeEntries(message), [valid[0], valid[1]]);
      });
    }

    test('an id of exactly 128 characters is accepted', () => {
      const entry = { kind: 'session', id: 'x'.repeat(128), until: LATER };
      assert.deepEqual(decodeEntries(JSON.stringify([entry])), [entry]);
    });

    test('a "__proto__" key in an entry neither throws nor pollutes prototypes', () => {
      const message = '[{"kind":"token","id":"jti-9","until":1,"__proto__":{"polluted":true}}]';
      const entries = decodeEntries(message);
      assert.equal(entries.length, 1);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });
});
