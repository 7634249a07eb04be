import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ForbiddenError, InsufficientScopeError, StepUpRequiredError } from '../../src/errors/errors.js';
import { factorChangeRequirement } from '../../src/guard/factor-change.js';
import type { Principal } from '../../src/guard/principal.js';
import {
  AUTHENTICATED,
  authorize as authorizeAt,
  describeRequirement,
  isValidRequirement,
  PUBLIC,
  type RouteRequirement,
} from '../../src/guard/requirement.js';

/** Seconds since the epoch at which the checks decide. */
const NOW = 1_800_000_000;
const authorize = (p: Principal, requirement: RouteRequirement): void => authorizeAt(p, requirement, NOW);

function principal(scopes: string[], roles: string[] = [], tenantId?: string, authentication?: { methods: string[]; time: number }): Principal {
  const subject = '00000000-0000-4000-8000-000000000000';
  return {
    via: 'bearer',
    ...(authentication === undefined ? {} : { authentication }),
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

describe('authorize: step-up (RFC 9470)', () => {
  const AAL2_FRESH: RouteRequirement = { authentication: { aal: 2, maxAge: 300 } };
  const stepUp = (e: unknown) => e instanceof StepUpRequiredError && e.requirement.aal === 2 && e.requirement.maxAge === 300;

  test('a password alone (AAL1) on an AAL2 route is refused with the requirement to meet', () => {
    assert.throws(() => authorize(principal([], [], undefined, { methods: ['pwd'], time: NOW }), AAL2_FRESH), stepUp);
  });

  test('an OTP alone or a key without user verification is one factor, not two', () => {
    assert.throws(() => authorize(principal([], [], undefined, { methods: ['otp'], time: NOW }), AAL2_FRESH), stepUp);
    assert.throws(() => authorize(principal([], [], undefined, { methods: ['hwk'], time: NOW }), AAL2_FRESH), stepUp);
    assert.throws(
      () => authorize(principal([], [], undefined, { methods: ['pwd', 'pin'], time: NOW }), AAL2_FRESH),
      stepUp,
      'two knowledge factors are one kind',
    );
  });

  test('two factors authenticated longer ago than maxAge are refused: elevation expires', () => {
    assert.throws(() => authorize(principal([], [], undefined, { methods: ['pwd', 'otp'], time: NOW - 301 }), AAL2_FRESH), stepUp);
  });

  test('no authentication facts (an API key, a client-credentials token) never satisfy a step-up route, even AAL1', () => {
    assert.throws(() => authorize(principal([]), AAL2_FRESH), stepUp);
    assert.throws(() => authorize(principal([]), { authentication: { aal: 1 } }), StepUpRequiredError);
  });

  test('a scope refusal comes before the step-up: stepping up cannot grant a scope', () => {
    assert.throws(() => authorize(principal([], [], undefined, { methods: ['pwd'], time: NOW }), { scopes: ['admin'], ...AAL2_FRESH }), InsufficientScopeError);
  });

  test('password + TOTP, a passkey with user verification, or mfa within maxAge pass', () => {
    authorize(principal([], [], undefined, { methods: ['pwd', 'otp'], time: NOW - 300 }), AAL2_FRESH);
    authorize(principal([], [], undefined, { methods: ['hwk', 'user'], time: NOW }), AAL2_FRESH);
    authorize(principal([], [], undefined, { methods: ['mfa'], time: NOW }), AAL2_FRESH);
    authorize(principal([], [], undefined, { methods: ['pwd'], time: NOW - 10 }), { authentication: { aal: 1, maxAge: 60 } });
  });

  test('declarations are checked: level 1 or 2, maxAge a positive whole number, no other keys', () => {
    assert.equal(isValidRequirement(AAL2_FRESH), true);
    assert.equal(isValidRequirement({ authentication: { aal: 3 } }), false);
    assert.equal(isValidRequirement({ authentication: { aal: 2, maxAge: 0 } }), false);
    assert.equal(isValidRequirement({ authentication: { aal: 2, maxAge: 1.5 } }), false);
    assert.equal(isValidRequirement({ authentication: { aal: 2, max_age: 300 } }), false, 'a misspelt key would silently demand nothing');
    assert.equal(describeRequirement(AAL2_FRESH), 'authenticated; aal2 within 300s');
  });

  test('a factor change asks for a recent sign-in, with two factors once the user has a second one', () => {
    assert.deepEqual(factorChangeRequirement(false), { aal: 1, maxAge: 300 });
    assert.deepEqual(factorChangeRequirement(true), { aal: 2, maxAge: 300 });
    assert.equal(isValidRequirement({ factorChange: true }), true);
    assert.equal(isValidRequirement({ factorChange: 'yes' }), false);
    assert.equal(isValidRequirement({ factorChange: true, authentication: { aal: 1 } }), false, 'one rule, never two that could disagree');
    assert.equal(describeRequirement({ factorChange: true }), 'authenticated; factor change');
  });
});
