import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ForbiddenError } from '../../src/errors/errors.js';
import { holdsRole, ownedByCaller } from '../../src/guard/ownership.js';
import { allOf, anyOf, enforcePolicy } from '../../src/guard/policy.js';
import type { Principal } from '../../src/guard/principal.js';
import { sameTenant } from '../../src/guard/tenant-boundary.js';

const ALICE = '00000000-0000-4000-8000-00000000000a';
const BOB = '00000000-0000-4000-8000-00000000000b';
const ACME = '7d1f1c2e-5a0b-4c4e-9f51-1b2c3d4e5f60';
const GLOBEX = '2a9e6f0d-8b1c-4d7e-a3f2-6c5b4a392817';

function principal(subject: string, tenantId: string | undefined, roles: string[] = []): Principal {
  return Object.freeze({
    via: 'bearer',
    subject,
    roles,
    scopes: new Set<string>(),
    ...(tenantId === undefined ? {} : { tenantId }),
    clientId: 'gatehouse-cli',
    tokenId: 't',
    tokenVersion: 0,
    expiresAt: 0,
    claims: { iss: 'https://gatehouse.test', sub: subject, aud: 'gatehouse', exp: 0, iat: 0, jti: 't', client_id: 'gatehouse-cli', scope: '' },
    user: { id: subject, username: 'u', email: null, emailVerified: false, roles: [], createdAt: new Date(0) },
  });
}

const order = { id: 'o1', tenantId: ACME, ownerId: ALICE };

describe('sameTenant', () => {
  test("a token of tenant B is refused on tenant A's resource, even holding the same role", () => {
    assert.equal(sameTenant.allows(principal(ALICE, GLOBEX, ['manager']), order), false);
  });
  test("a token bound to no tenant reaches no tenant's resource", () => {
    assert.equal(sameTenant.allows(principal(ALICE, undefined, ['manager']), order), false);
  });
  test('a token acting in the resource tenant passes', () => {
    assert.equal(sameTenant.allows(principal(BOB, ACME), order), true);
  });
});

describe('ownedByCaller and holdsRole', () => {
  test("another user's resource is refused; the owner's is allowed", () => {
    assert.equal(ownedByCaller.allows(principal(BOB, ACME), order), false);
    assert.equal(ownedByCaller.allows(principal(ALICE, ACME), order), true);
  });
  test('holdsRole reads the principal roles', () => {
    assert.equal(holdsRole('manager').allows(principal(BOB, ACME, ['clerk']), order), false);
    assert.equal(holdsRole('manager').allows(principal(BOB, ACME, ['manager']), order), true);
  });
});

describe('combinators and enforcePolicy', () => {
  const readOrder = allOf('read-order', sameTenant, anyOf('owner-or-manager', ownedByCaller, holdsRole('manager')));
  test("a manager of tenant B cannot read tenant A's order; a manager of A can; a clerk of A only their own", () => {
    assert.equal(readOrder.allows(principal(BOB, GLOBEX, ['manager']), order), false);
    assert.equal(readOrder.allows(principal(BOB, ACME, ['manager']), order), true);
    assert.equal(readOrder.allows(principal(BOB, ACME, ['clerk']), order), false);
    assert.equal(readOrder.allows(principal(ALICE, ACME, ['clerk']), order), true);
  });
  test('a denial is ForbiddenError whose log reason names the policy, not the client message', () => {
    assert.throws(
      () => enforcePolicy(readOrder, principal(BOB, GLOBEX), order),
      (e: unknown) => e instanceof ForbiddenError && e.logReason === 'policy read-order denied' && !e.message.includes('read-order'),
    );
  });
});
