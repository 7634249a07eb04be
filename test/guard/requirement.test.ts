import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ForbiddenError, InsufficientScopeError } from '../../src/errors/errors.js';
import type { Principal } from '../../src/guard/principal.js';
import { AUTHENTICATED, authorize, isValidRequirement, PUBLIC } from '../../src/guard/requirement.js';

function principal(scopes: string[], roles: string[] = [], tenantId?: string): Principal {
  const subject = '00000000-0000-4000-8000-000000000000';
  return {
    via: 'bearer',
    subject,
    ...(tenantId === undefined ? {} : { tenantId }),
    tokenVersion: 0,
    roles,
    scopes: new Set(scopes),
    clientId: 'gatehouse-cli',
    tokenId: 't',
    expiresAt: 0,
    claims: { iss: 'https://gatehouse.test', sub: subject, aud: 'gatehouse', exp: 0, iat: 0, jti: 't', client_id: 'gatehouse-cli', scope: scopes.join(' ') },
    user: { id: subject, username: 'p', email: null, emailVerified: false, roles, createdAt: new Date(0) },
  };
}

describe('authorize: denials', () => {
  test('a missing scope (match all) is insufficient_scope and names the required scopes', () => {
    assert.throws(
      () => authorize(principal(['a']), { scopes: ['a', 'b'] }),
      (e: unknown) => e instanceof InsufficientScopeError && e.requiredScopes.join(' ') === 'a b',
    );
  });

  test('match any needs at least one', () => {
    assert.throws(() => authorize(principal(['c']), { scopes: ['a', 'b'], match: 'any' }), InsufficientScopeError);
  });

  test('a missing role is forbidden', () => {
    assert.throws(() => authorize(principal(['a'], ['user']), { roles: ['admin'] }), ForbiddenError);
  });
});

describe('authorize: grants', () => {
  test('all scopes present, any scope present, role present, plain authenticated', () => {
    authorize(principal(['a', 'b']), { scopes: ['a', 'b'] });
    authorize(principal(['b']), { scopes: ['a', 'b'], match: 'any' });
    authorize(principal([], ['admin']), { roles: ['admin', 'ops'] });
    authorize(principal([]), AUTHENTICATED);
    authorize(principal([]), PUBLIC);
  });
});

describe('isValidRequirement', () => {
  test('accepts the declared shapes and refuses anything else', () => {
    assert.equal(isValidRequirement(PUBLIC), true);
    assert.equal(isValidRequirement(AUTHENTICATED), true);
    assert.equal(isValidRequirement({ scopes: ['a'], match: 'any', roles: ['r'] }), true);
    assert.equal(isValidRequirement({ public: true, scopes: ['a'] }), false, 'public with scopes is ambiguous');
    assert.equal(isValidRequirement({ scopes: 'a' }), false);
    assert.equal(isValidRequirement({ scopes: [''] }), false);
    assert.equal(isValidRequirement({ match: 'some' }), false);
    assert.equal(isValidRequirement(null), false);
    assert.equal(isValidRequirement('public'), false);
    assert.equal(isValidRequirement({ scope: ['a'] }), false, 'a misspelt key would silently protect nothing');
    assert.equal(isValidRequirement({ tenant: 'yes' }), false);
    assert.equal(isValidRequirement({ fresh: 1 }), false);
    assert.equal(isValidRequirement({ resource: { policy: { name: 'p' }, load: () => undefined } }), false);
    assert.equal(isValidRequirement({ tenant: true, fresh: true, resource: { policy: { name: 'p', allows: () => true }, load: async () => undefined } }), true);
  });
});

describe('authorize: tenant', () => {
  test('a tenant-bound route refuses a token acting in no tenant, whatever its scopes and roles', () => {
    assert.throws(() => authorize(principal(['a'], ['manager']), { scopes: ['a'], roles: ['manager'], tenant: true }), ForbiddenError);
  });

  test('a token acting in a tenant passes', () => {
    authorize(principal(['a'], [], '7d1f1c2e-5a0b-4c4e-9f51-1b2c3d4e5f60'), { scopes: ['a'], tenant: true });
  });
});
