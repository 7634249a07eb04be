import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditRecord } from '../../src/audit/audit-event.js';
import { InvalidGrantError, InvalidTokenError, LoginRefusedError, OAuthError, StoreUnavailableError } from '../../src/errors/errors.js';
import { BUILT_IN_CLIENTS, createClientRegistry } from '../../src/oauth/clients.js';
import { createScopeCatalogue, SCOPE_TOKEN } from '../../src/oauth/scope-catalogue.js';
import { createResourceRegistry, type ResourceServer } from '../../src/oauth/resource-servers.js';
import type { TenantRecord } from '../../src/tenants/tenant.js';
import type { TenantMembership } from '../../src/tenants/tenant-store.js';
import {
  handleTokenRequest,
  type BasicClientCredentials,
  type TokenRequestContext,
  type TokenRequestDeps,
  type TokenRequestParams,
} from '../../src/oauth/token-request.js';
import type { StartSessionInput } from '../../src/sessions/refresh-families.js';
import type { SessionRecord } from '../../src/sessions/session-store.js';
import type { IssueAccessTokenInput } from '../../src/tokens/access-token-issuer.js';
import type { UserRecord } from '../../src/users/user-store.js';

const USER: UserRecord = Object.freeze({
  id: '6d1f3f4e-2a51-4b7e-9a7e-0d3c1c0e9b11',
  kind: 'person',
  username: 'alice',
  tokenVersion: 0,
  lockedAt: null,
  email: null,
  emailVerifiedAt: null,
  passwordHash: 'unused',
  roles: Object.freeze([]),
  disabledAt: null,
  createdAt: new Date(0),
});

const SESSION: SessionRecord = Object.freeze({
  id: '0b8a9c59-3c3e-4f59-9a57-9e5d3c1f2a10',
  kind: 'refresh',
  userId: USER.id,
  clientId: 'gatehouse-cli',
  tenantId: null,
  scope: 'profile',
  resource: null,
  device: 'test',
  ip: null,
  createdAt: new Date(0),
  lastUsedAt: new Date(0),
  expiresAt: new Date(0),
  idleExpiresAt: new Date(0),
  authMethods: ['pwd'],
  authTime: new Date(0),
  revokedAt: null,
  revokedReason: null,
});

const CONTEXT: TokenRequestContext = { device: 'test device', ip: '127.0.0.1', audit: { ip: '127.0.0.1', userAgent: 'test agent', requestId: 'req-1' } };

const ACME: TenantRecord = Object.freeze({ id: '7d1f1c2e-5a0b-4c4e-9f51-1b2c3d4e5f60', slug: 'acme', name: 'Acme', createdAt: new Date(0) });
const GLOBEX: TenantRecord = Object.freeze({ id: '2a9e6f0d-8b1c-4d7e-a3f2-6c5b4a392817', slug: 'globex', name: 'Globex', createdAt: new Date(0) });
const TENANT_SCOPES = {
  profile: { description: 'p', roles: ['user'] },
  'orders:read': { description: 'r', tenantRoles: ['clerk', 'manager'] },
  'orders:refund': { description: 'w', tenantRoles: ['manager'] },
};

function fakeDeps(options: { definitions?: Parameters<typeof createScopeCatalogue>[0]; memberships?: TenantMembership[]; resources?: ResourceServer[] } = {}) {
  const scopes = createScopeCatalogue(options.definitions);
  const calls = {
    verifyPassword: 0,
    issue: [] as IssueAccessTokenInput[],
    sessions: [] as StartSessionInput[],
    exchanged: [] as (readonly string[])[],
    audit: [] as AuditRecord[],
  };
  const liveSession: SessionRecord = { ...SESSION, tenantId: options.memberships === undefined ? null : ACME.id };
  const issueAccessToken = async (input: IssueAccessTokenInput) => {
    calls.issue.push(input);
    return { token: 'signed', tokenId: 'jti', expiresIn: 900, expiresAt: 0, scope: input.scopes.join(' ') };
  };
  const deps: TokenRequestDeps = {
    clients: createClientRegistry([
      ...BUILT_IN_CLIENTS,
      { id: 'partner-app', firstParty: false, grantTypes: ['password'] },
      { id: 'refresh-only', firstParty: true, grantTypes: ['refresh_token'] },
    ]),
    scopes,
    resources: createResourceRegistry(options.resources ?? [], scopes, ['https://gatehouse.test']),
    async verifyPassword(username, password) {
      calls.verifyPassword++;
      if (username === 'alice' && password === 'right') return USER;
      throw username === 'alice' ? new LoginRefusedError('wrong_password', USER.id) : new LoginRefusedError('unknown_user', null);
    },
    async findUser(id) {
      return id === USER.id ? USER : undefined;
    },
    // No user here has a second factor: test/http/mfa-sign-in.test.ts drives the factor step end to end.
    mfa: {
      challengeIfRequired: async () => undefined,
      complete: async () => {
        throw new InvalidGrantError('no challenge here');
      },
    },
    async membershipsOfUser(userId) {
      return userId === USER.id ? (options.memberships ?? []) : [];
    },
    async tenantRolesOf(tenantId, userId) {
      return userId === USER.id ? options.memberships?.find((m) => m.tenant.id === tenantId)?.roles : undefined;
    },
    async startSession(input) {
      calls.sessions.push(input);
      return { session: { ...SESSION, scope: input.scope, clientId: input.clientId }, refreshToken: 'ghr_first' };
    },
    async exchangeRefreshToken(token, _clientId, requestedScopes) {
      calls.exchanged.push(requestedScopes);
      if (token !== 'ghr_live') throw new InvalidGrantError('unknown refresh token');
      return { session: liveSession, refreshToken: 'ghr_next' };
    },
    async sessionOfRefreshToken(token) {
      return token === 'ghr_live' ? liveSession : undefined;
    },
    async authenticateApiKey() {
      // The client-credentials grant has its own tests over real keys (test/http/client-credentials.test.ts).
      throw new InvalidTokenError('no api keys in this pipeline test');
    },
    async recordAudit(record) {
      calls.audit.push(record);
    },
    now: () => 0,
    issueAccessToken,
    prepareAccessToken: () => issueAccessToken,
  };
  return { deps, calls };
}

const valid = { grant_type: 'password', username: 'alice', password: 'right' };

async function oauthError(deps: TokenRequestDeps, params: TokenRequestParams, basic?: BasicClientCredentials): Promise<string> {
  try {
    await handleTokenRequest(deps, params, basic, CONTEXT);
  } catch (error) {
    assert.ok(error instanceof OAuthError, String(error));
    return error.error;
  }
  assert.fail('the request was accepted');
}

describe('handleTokenRequest: the password is checked last', () => {
  const refusedBeforePassword: [string, TokenRequestParams, BasicClientCredentials | undefined, string][] = [
    ['a repeated parameter', { ...valid, scope: ['profile', 'profile'] }, undefined, 'invalid_request'],
    ['an unsupported grant', { ...valid, grant_type: 'authorization_code' }, undefined, 'unsupported_grant_type'],
    ['an unknown client', { ...valid, client_id: 'evil' }, undefined, 'invalid_client'],
    ['a client secret', { ...valid, client_secret: 'x' }, undefined, 'invalid_client'],
    ['a Basic secret', valid, { clientId: 'gatehouse-cli', clientSecret: 'x' }, 'invalid_client'],
    ['a third-party client', { ...valid, client_id: 'partner-app' }, undefined, 'unauthorized_client'],
    ['a client without the password grant', { ...valid, client_id: 'refresh-only' }, undefined, 'unauthorized_client'],
    ['a third-party client refreshing', { grant_type: 'refresh_token', refresh_token: 'ghr_live', client_id: 'partner-app' }, undefined, 'unauthorized_client'],
    ['an unknown scope', { ...valid, scope: 'admin' }, undefined, 'invalid_scope'],
    ['a scope with a forbidden character', { ...valid, scope: 'pro\\file' }, undefined, 'invalid_scope'],
    ['an over-long scope', { ...valid, scope: `profile ${'p'.repeat(1100)}` }, undefined, 'invalid_scope'],
    ['a missing password', { grant_type: 'password', username: 'alice' }, undefined, 'invalid_request'],
  ];
  for (const [name, params, basic, expected] of refusedBeforePassword) {
    test(`${name}: ${expected}, and the password is never verified`, async () => {
      const { deps, calls } = fakeDeps();
      assert.equal(await oauthError(deps, params, basic), expected);
      assert.equal(calls.verifyPassword, 0);
      assert.equal(calls.issue.length, 0);
    });
  }

  test('a wrong password issues nothing', async () => {
    const { deps, calls } = fakeDeps();
    assert.equal(await oauthError(deps, { ...valid, password: 'wrong' }), 'invalid_grant');
    assert.equal(calls.verifyPassword, 1);
    assert.equal(calls.issue.length, 0);
  });
});

describe('handleTokenRequest: what is issued', () => {
  test('no scope parameter: every scope the user holds, for the default client', async () => {
    const { deps, calls } = fakeDeps();
    const response = await handleTokenRequest(deps, valid, undefined, CONTEXT);
    assert.deepEqual(response, { access_token: 'signed', token_type: 'Bearer', expires_in: 900, scope: 'profile', refresh_token: 'ghr_first' });
    assert.equal(calls.issue[0]?.subject, USER.id);
    assert.equal(calls.issue[0]?.clientId, 'gatehouse-cli');
    assert.equal(calls.issue[0]?.sessionId, SESSION.id);
    assert.deepEqual(calls.sessions[0], {
      userId: USER.id,
      clientId: 'gatehouse-cli',
      tenantId: null,
      scope: 'profile',
      device: 'test device',
      ip: '127.0.0.1',
      authentication: { methods: ['pwd'], time: 0 },
    });
    assert.deepEqual(calls.issue[0]?.authentication, { methods: ['pwd'], time: 0 }, "the session's facts become amr and auth_time");
  });

  test('never more than the user holds: a scope only admins hold is refused for a plain user', async () => {
    const { deps, calls } = fakeDeps({
      definitions: {
        profile: { description: 'p', roles: ['user'] },
        'users:admin': { description: 'a', roles: ['admin'] },
      },
    });
    assert.equal(await oauthError(deps, { ...valid, scope: 'users:admin' }), 'invalid_scope');
    const response = await handleTokenRequest(deps, { ...valid, scope: 'profile users:admin' }, undefined, CONTEXT);
    assert.equal(response.scope, 'profile');
    assert.deepEqual(calls.issue.at(-1)?.scopes, ['profile']);
  });

  test('Basic and body may name the same client', async () => {
    const { deps, calls } = fakeDeps();
    await handleTokenRequest(deps, { ...valid, client_id: 'gatehouse-cli' }, { clientId: 'gatehouse-cli', clientSecret: '' }, CONTEXT);
    assert.equal(calls.issue[0]?.clientId, 'gatehouse-cli');
  });

  test('Basic and body naming different clients: invalid_request', async () => {
    const { deps } = fakeDeps();
    assert.equal(await oauthError(deps, { ...valid, client_id: 'partner-app' }, { clientId: 'gatehouse-cli', clientSecret: '' }), 'invalid_request');
  });
});

describe('handleTokenRequest: refresh_token grant (RFC 6749 §6)', () => {
  const refresh = { grant_type: 'refresh_token', refresh_token: 'ghr_live' };

  test('a missing refresh_token is invalid_request; an unknown one invalid_grant', async () => {
    const { deps } = fakeDeps();
    assert.equal(await oauthError(deps, { grant_type: 'refresh_token' }), 'invalid_request');
    assert.equal(await oauthError(deps, { ...refresh, refresh_token: 'ghr_other' }), 'invalid_grant');
  });

  test('the requested scope goes into the rotation, where the session bounds it before the token is spent', async () => {
    const { deps, calls } = fakeDeps();
    await handleTokenRequest(deps, { ...refresh, scope: 'profile' }, undefined, CONTEXT);
    await handleTokenRequest(deps, refresh, undefined, CONTEXT);
    assert.deepEqual(calls.exchanged, [['profile'], []]);
  });

  test('a refresh returns the successor and keeps the session id', async () => {
    const { deps, calls } = fakeDeps();
    const response = await handleTokenRequest(deps, refresh, undefined, CONTEXT);
    assert.equal(response.refresh_token, 'ghr_next');
    assert.equal(calls.issue[0]?.sessionId, SESSION.id);
    assert.deepEqual(calls.issue[0]?.scopes, ['profile']);
  });

  // Issue 19 item 3: a read that failed after the spend left the client a spent token and no
  // successor, and its retry was taken for theft. Every read and the key check come first now.
  const outages: [string, (deps: TokenRequestDeps) => TokenRequestDeps][] = [
    ['the user lookup', (deps) => ({ ...deps, findUser: async () => Promise.reject(new StoreUnavailableError('database down')) })],
    ['the tenant roles', (deps) => ({ ...deps, tenantRolesOf: async () => Promise.reject(new StoreUnavailableError('database down')) })],
    [
      'the signing key (stale key set)',
      (deps) => ({
        ...deps,
        prepareAccessToken: () => {
          throw new StoreUnavailableError('signing keys not confirmed');
        },
      }),
    ],
  ];
  for (const [what, failing] of outages) {
    test(`${what} failing: 503 before the token is spent, so the same token works once the store is back`, async () => {
      const { deps, calls } = fakeDeps({ definitions: TENANT_SCOPES, memberships: [{ tenant: ACME, roles: ['clerk'] }] });
      await assert.rejects(handleTokenRequest(failing(deps), refresh, undefined, CONTEXT), StoreUnavailableError);
      assert.equal(calls.exchanged.length, 0, 'the token was spent before the failure');
      const response = await handleTokenRequest(deps, refresh, undefined, CONTEXT);
      assert.equal(response.refresh_token, 'ghr_next');
    });
  }

  test('a disabled user is refused before the token is spent', async () => {
    const { deps, calls } = fakeDeps();
    const disabled = { ...deps, findUser: async () => ({ ...USER, disabledAt: new Date(0) }) };
    assert.equal(await oauthError(disabled, refresh), 'invalid_grant');
    assert.equal(calls.exchanged.length, 0);
  });

  test('a scope the user no longer holds is dropped at refresh', async () => {
    const { deps, calls } = fakeDeps({ definitions: { profile: { description: 'p', roles: ['admin'] } } });
    const response = await handleTokenRequest(deps, refresh, undefined, CONTEXT);
    assert.equal(response.scope, '');
    assert.deepEqual(calls.issue[0]?.scopes, []);
  });
});

describe('clients and scopes', () => {
  test('duplicate client ids are a programming error', () => {
    assert.throws(() => createClientRegistry([...BUILT_IN_CLIENTS, ...BUILT_IN_CLIENTS]), TypeError);
  });

  test('registered clients are frozen copies', () => {
    const source = { id: 'app', firstParty: true, grantTypes: ['password'] as const };
    const found = createClientRegistry([source]).find('app');
    assert.ok(found !== undefined && Object.isFrozen(found));
    assert.throws(() => {
      (found as { firstParty: boolean }).firstParty = false;
    }, TypeError);
  });

  test('a scope name that is not an RFC 6749 scope-token is refused', () => {
    for (const bad of ['with space', 'quote"', 'back\\slash', '']) {
      assert.equal(SCOPE_TOKEN.test(bad), false, bad);
      assert.throws(() => createScopeCatalogue({ [bad]: { description: 'x', roles: ['user'] } }), TypeError);
    }
  });

  test('every user holds the implicit "user" role; other scopes need their role', () => {
    const catalogue = createScopeCatalogue({ profile: { description: 'p', roles: ['user'] }, admin: { description: 'a', roles: ['admin'] } });
    assert.deepEqual([...catalogue.scopesForRoles([])], ['profile']);
    assert.deepEqual([...catalogue.scopesForRoles(['admin'])].sort(), ['admin', 'profile']);
  });
});

describe('handleTokenRequest: tenants', () => {
  test('a tenant the user does not belong to is refused exactly like a wrong password, and audited as not_a_member', async () => {
    const { deps, calls } = fakeDeps({ definitions: TENANT_SCOPES, memberships: [{ tenant: ACME, roles: ['manager'] }] });
    assert.equal(await oauthError(deps, { ...valid, tenant: 'globex' }), 'invalid_grant');
    assert.equal(calls.issue.length, 0);
    assert.equal(calls.sessions.length, 0);
    assert.equal(calls.audit[0]?.reason, 'not_a_member');
    assert.equal(calls.audit[0]?.subjectId, USER.id);
  });

  test('a malformed tenant parameter is refused before the password is checked', async () => {
    const { deps, calls } = fakeDeps({ definitions: TENANT_SCOPES });
    assert.equal(await oauthError(deps, { ...valid, tenant: 'x'.repeat(65) }), 'invalid_request');
    assert.equal(calls.verifyPassword, 0);
  });

  test('the roles of one tenant never count in another: manager in acme, clerk in globex, logged in to globex', async () => {
    const { deps, calls } = fakeDeps({
      definitions: TENANT_SCOPES,
      memberships: [
        { tenant: ACME, roles: ['manager'] },
        { tenant: GLOBEX, roles: ['clerk'] },
      ],
    });
    const response = await handleTokenRequest(deps, { ...valid, tenant: 'GLOBEX' }, undefined, CONTEXT);
    assert.equal(response.scope, 'orders:read profile');
    assert.equal(calls.issue[0]?.tenantId, GLOBEX.id);
    assert.deepEqual(calls.issue[0]?.roles, ['clerk']);
    assert.equal(calls.sessions[0]?.tenantId, GLOBEX.id);
  });

  test('without a tenant parameter: the only tenant; none when the user has several', async () => {
    const one = fakeDeps({ definitions: TENANT_SCOPES, memberships: [{ tenant: ACME, roles: ['manager'] }] });
    await handleTokenRequest(one.deps, valid, undefined, CONTEXT);
    assert.equal(one.calls.issue[0]?.tenantId, ACME.id);
    assert.equal(one.calls.issue[0]?.scopes.includes('orders:refund'), true);
    const several = fakeDeps({
      definitions: TENANT_SCOPES,
      memberships: [
        { tenant: ACME, roles: ['manager'] },
        { tenant: GLOBEX, roles: ['clerk'] },
      ],
    });
    const response = await handleTokenRequest(several.deps, valid, undefined, CONTEXT);
    assert.equal(several.calls.issue[0]?.tenantId, undefined);
    assert.deepEqual(several.calls.issue[0]?.roles, []);
    assert.equal(response.scope, 'profile');
  });

  test('a tenant can be named by id as well as by slug', async () => {
    const { deps, calls } = fakeDeps({
      definitions: TENANT_SCOPES,
      memberships: [
        { tenant: ACME, roles: [] },
        { tenant: GLOBEX, roles: [] },
      ],
    });
    await handleTokenRequest(deps, { ...valid, tenant: ACME.id }, undefined, CONTEXT);
    assert.equal(calls.issue[0]?.tenantId, ACME.id);
  });

  test('refresh after leaving the session tenant: invalid_grant, nothing issued', async () => {
    const { deps, calls } = fakeDeps({ definitions: TENANT_SCOPES, memberships: [{ tenant: GLOBEX, roles: ['clerk'] }] });
    assert.equal(await oauthError(deps, { grant_type: 'refresh_token', refresh_token: 'ghr_live' }), 'invalid_grant');
    assert.equal(calls.issue.length, 0);
  });

  test('refresh re-reads the tenant roles: a role revoked since login drops its scope', async () => {
    const memberships = [{ tenant: ACME, roles: ['clerk'] }];
    const { deps, calls } = fakeDeps({ definitions: TENANT_SCOPES, memberships });
    const response = await handleTokenRequest(deps, { grant_type: 'refresh_token', refresh_token: 'ghr_live', scope: 'profile' }, undefined, CONTEXT);
    assert.equal(response.scope, 'profile');
    assert.equal(calls.issue[0]?.tenantId, ACME.id);
    assert.deepEqual(calls.issue[0]?.roles, ['clerk']);
  });
});

describe('handleTokenRequest: resource indicators (RFC 8707)', () => {
  const ORDERS: ResourceServer = { identifier: 'https://orders.test/api', scopes: ['orders:read'] };

  test('malicious: an unknown, malformed or repeated resource is invalid_target before any password is checked', async () => {
    const { deps, calls } = fakeDeps({ definitions: TENANT_SCOPES, resources: [ORDERS] });
    for (const resource of ['https://other.test/', `${ORDERS.identifier}#x`, 'orders', '', [ORDERS.identifier, ORDERS.identifier]]) {
      assert.equal(await oauthError(deps, { ...valid, resource }), 'invalid_target', JSON.stringify(resource));
      assert.equal(await oauthError(deps, { grant_type: 'refresh_token', refresh_token: 'ghr_live', resource }), 'invalid_target');
    }
    assert.equal(calls.verifyPassword, 0);
    assert.equal(calls.exchanged.length, 0);
  });

  test("the resource becomes the audience and the session's; scopes are those it defines and the user holds", async () => {
    const { deps, calls } = fakeDeps({ definitions: TENANT_SCOPES, resources: [ORDERS], memberships: [{ tenant: ACME, roles: ['clerk'] }] });
    const response = await handleTokenRequest(deps, { ...valid, resource: ORDERS.identifier }, undefined, CONTEXT);
    assert.equal(response.scope, 'orders:read');
    assert.equal(calls.issue[0]?.audience, ORDERS.identifier);
    assert.equal(calls.sessions[0]?.resource, ORDERS.identifier);
    // Without resource, no audience is set (the issuer's default) and the session names none.
    await handleTokenRequest(deps, valid, undefined, CONTEXT);
    assert.equal(calls.issue[1]?.audience, undefined);
    assert.equal(calls.sessions[1]?.resource, undefined);
  });

  test("malicious: a user holding none of the resource's scopes gets invalid_scope, not an empty token", async () => {
    const { deps } = fakeDeps({ definitions: TENANT_SCOPES, resources: [ORDERS] });
    assert.equal(await oauthError(deps, { ...valid, resource: ORDERS.identifier }), 'invalid_scope');
  });
});
