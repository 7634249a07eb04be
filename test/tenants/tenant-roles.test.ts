import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { NO_AUDIT_CONTEXT } from '../../src/audit/audit-event.js';
import { ValidationError } from '../../src/errors/errors.js';
import { createScopeCatalogue } from '../../src/oauth/scope-catalogue.js';
import { addMember, changeMemberRole, createTenant, type TenantAdminDeps } from '../../src/tenants/tenant-admin.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const OPERATOR = { userId: null, context: NO_AUDIT_CONTEXT };

describe('tenant roles never read as global roles', () => {
  test('malicious: a scope catalogue naming one role both globally and in tenants is refused at startup', () => {
    assert.throws(
      () => createScopeCatalogue({ 'reports:read': { description: 'r', roles: ['auditor'] }, 'orders:read': { description: 'o', tenantRoles: ['auditor'] } }),
      /auditor is a global role and cannot be a tenant role/,
    );
    assert.throws(() => createScopeCatalogue({ 'orders:read': { description: 'o', tenantRoles: ['admin'] } }), /admin is a global role/);
  });

  describe('with a host that defines a global role of its own (auditor)', () => {
    let t: TestApp;
    let deps: TenantAdminDeps;
    let userId: string;
    before(async () => {
      t = await startTestApp({
        overrides: {
          scopes: { 'reports:read': { description: 'every report', roles: ['auditor'] }, 'orders:read': { description: 'orders', tenantRoles: ['clerk'] } },
        },
      });
      deps = { tenants: t.services.tenants, revocations: t.services.revocations, scopes: t.services.scopes, now: Date.now };
      userId = (await t.register('tina')).id;
      await createTenant(deps, OPERATOR, { slug: 'acme' });
      await addMember(deps, OPERATOR, 'acme', userId);
    });
    after(() => t.close());

    test('malicious: granting the global role inside a tenant is refused (it would read as held everywhere)', async () => {
      for (const role of ['auditor', 'admin', 'user']) {
        await assert.rejects(
          changeMemberRole(deps, OPERATOR, 'acme', userId, role, true),
          (e: unknown) => e instanceof ValidationError && /global role/.test(e.message + JSON.stringify(e.issues)),
          role,
        );
      }
      const token = decodeJwt((await t.login('tina', undefined, { scope: 'profile' })).access_token);
      assert.deepEqual(token.roles, []);
    });

    test("the sign-in's lookup says whether the account is in any tenant, so a sign-in of one in none reads no memberships", async () => {
      assert.equal((await t.services.users.findByUsernameKey('tina'))?.hasMemberships, true, 'a member of acme');
      await t.register('nomad');
      assert.equal((await t.services.users.findByUsernameKey('nomad'))?.hasMemberships, false, 'in no tenant');
      assert.equal((await t.services.users.findById(userId))?.hasMemberships, undefined, 'other reads do not say: unknown');
    });

    test('a tenant role grants its tenant scope and shows in roles; the global scope stays out of reach', async () => {
      await changeMemberRole(deps, OPERATOR, 'acme', userId, 'clerk', true);
      const tokens = await t.login('tina');
      assert.deepEqual(tokens.scope.split(' ').sort(), ['orders:read', 'profile']);
      assert.deepEqual(decodeJwt(tokens.access_token).roles, ['clerk']);
    });
  });
});
