import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { AUTHENTICATED, PUBLIC } from '../../src/guard/requirement.js';
import { checkRoutes, collectRoutes, describeRequirement, hasUnexpectedFlag, openApiPath, type InventoryRoute } from '../../src/cli/route-inventory.js';

/** Hidden (left out of the OpenAPI document) unless a test is about the document. */
const route = (method: string, path: string, requirement: InventoryRoute['requirement'], hidden = true): InventoryRoute => ({
  method,
  path,
  requirement,
  hidden,
});
const doc = (paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>>) => ({ paths });
const codes = (reports: ReturnType<typeof checkRoutes>) => reports.map((r) => r.flags.map((f) => `${f.code}${f.expected === undefined ? '' : '(expected)'}`));

describe('checkRoutes', () => {
  test('an /admin route added without an admin scope is flagged, and makes the run fail', () => {
    const reports = checkRoutes(
      [
        route('GET', '/admin/users', { scopes: ['admin:users'] }),
        route('POST', '/admin/reindex', { scopes: ['profile'] }),
        route('GET', '/admin/stats', AUTHENTICATED),
        route('GET', '/admin', PUBLIC),
        route('GET', '/administrator-guide', PUBLIC),
      ],
      doc({}),
    );
    assert.deepEqual(codes(reports).slice(0, 4), [[], ['ADMIN_WITHOUT_ADMIN_SCOPE'], ['ADMIN_WITHOUT_ADMIN_SCOPE'], ['ADMIN_WITHOUT_ADMIN_SCOPE']]);
    // Not under /admin: a path that only starts with the same letters.
    assert.deepEqual(reports[4]!.flags, []);
    assert.equal(hasUnexpectedFlag(reports), true);
  });

  test('any-of scopes guard an /admin route only if every alternative is an admin scope; a role alone does not', () => {
    const reports = checkRoutes(
      [
        route('GET', '/admin/a', { scopes: ['admin:users', 'profile'], match: 'any' }),
        route('GET', '/admin/b', { scopes: ['admin:users', 'admin:audit'], match: 'any' }),
        route('GET', '/admin/c', { scopes: ['admin:users', 'profile'], match: 'all' }),
        route('GET', '/admin/d', { roles: ['admin'] }),
      ],
      doc({}),
    );
    assert.deepEqual(codes(reports), [['ADMIN_WITHOUT_ADMIN_SCOPE'], [], [], ['ADMIN_WITHOUT_ADMIN_SCOPE']]);
  });

  test('public writes: the auth endpoints are expected (with a reason), any other is flagged', () => {
    const reports = checkRoutes(
      [
        route('POST', '/auth/token', PUBLIC),
        route('POST', '/auth/register', PUBLIC),
        route('DELETE', '/things/:id', PUBLIC),
        route('PUT', '/auth/token', PUBLIC),
        route('GET', '/healthz', PUBLIC),
      ],
      doc({}),
    );
    assert.deepEqual(codes(reports), [['PUBLIC_WRITE(expected)'], ['PUBLIC_WRITE(expected)'], ['PUBLIC_WRITE'], ['PUBLIC_WRITE'], []]);
    assert.match(reports[0]!.flags[0]!.expected ?? '', /RFC 6749/);
    assert.equal(hasUnexpectedFlag(reports.slice(0, 2)), false);
  });

  test('OpenAPI security must state the requirement the guard enforces', () => {
    const reports = checkRoutes(
      [
        route('GET', '/me', { scopes: ['profile'] }, false),
        route('GET', '/me/wrong-scope', { scopes: ['profile'] }, false),
        route('GET', '/me/undocumented-token', { scopes: ['profile'] }, false),
        route('POST', '/auth/logout', AUTHENTICATED, false),
        route('GET', '/public-but-documented-protected', PUBLIC, false),
        route('GET', '/either', { scopes: ['a', 'b'], match: 'any' }, false),
        route('GET', '/either-documented-as-both', { scopes: ['a', 'b'], match: 'any' }, false),
        route('GET', '/users/:id', { scopes: ['profile'] }, false),
        route('GET', '/hidden', { scopes: ['profile'] }),
        route('GET', '/forgotten', { scopes: ['profile'] }, false),
      ],
      doc({
        '/me': { get: { security: [{ oauth2: ['profile'] }] } },
        '/me/wrong-scope': { get: { security: [{ oauth2: ['admin:users'] }] } },
        '/me/undocumented-token': { get: {} },
        '/auth/logout': { post: { security: [{ oauth2: [] }] } },
        '/public-but-documented-protected': { get: { security: [{ oauth2: [] }] } },
        '/either': { get: { security: [{ oauth2: ['b'] }, { oauth2: ['a'] }] } },
        '/either-documented-as-both': { get: { security: [{ oauth2: ['a', 'b'] }] } },
        '/users/{id}': { get: { security: [{ oauth2: ['profile'] }] } },
      }),
    );
    assert.deepEqual(codes(reports), [
      [],
      ['OPENAPI_MISMATCH'],
      ['OPENAPI_MISMATCH'],
      [],
      ['OPENAPI_MISMATCH'],
      [],
      ['OPENAPI_MISMATCH'],
      [],
      [],
      ['OPENAPI_MISMATCH'],
    ]);
    assert.equal(reports[8]!.openapi, null);
  });

  test('a machine-secret route must be documented with its own scheme, nothing else; behind /admin it is flagged', () => {
    const secret = { secret: 'revocation-feed' } as const;
    const reports = checkRoutes(
      [
        route('GET', '/feed', secret, false),
        route('GET', '/feed-as-token', secret, false),
        route('GET', '/feed-open', secret, false),
        route('GET', '/admin/feed', secret),
      ],
      doc({
        '/feed': { get: { security: [{ revocationFeedSecret: [] }] } },
        '/feed-as-token': { get: { security: [{ oauth2: [] }] } },
        '/feed-open': { get: {} },
      }),
    );
    assert.deepEqual(codes(reports), [[], ['OPENAPI_MISMATCH'], ['OPENAPI_MISMATCH'], ['ADMIN_WITHOUT_ADMIN_SCOPE']]);
    assert.equal(reports[0]!.requirement, 'secret revocation-feed');
    assert.equal(reports[0]!.public, false);
  });

  test('requirements read as text; Fastify paths become OpenAPI paths', () => {
    assert.equal(describeRequirement(PUBLIC), 'public');
    assert.equal(describeRequirement(AUTHENTICATED), 'authenticated');
    assert.equal(describeRequirement({ scopes: ['a', 'b'], match: 'any', roles: ['admin'] }), 'authenticated; scopes any(a b); roles any(admin)');
    assert.equal(openApiPath('/admin/users/:id/roles/:role'), '/admin/users/{id}/roles/{role}');
    assert.equal(openApiPath('/files/:id(^\\d+)'), '/files/{id}');
  });
});

describe('collectRoutes', () => {
  test('sees every route of an app built elsewhere, with its final config, HEAD twins folded', async () => {
    const { app, routes } = await collectRoutes(async () => {
      const built = Fastify();
      await built.register(async (child) => {
        child.addHook('onRoute', (options) => {
          options.config = { ...options.config, auth: options.config?.auth ?? AUTHENTICATED };
        });
        child.get('/inside', async () => 'x');
        child.post('/inside', { config: { auth: PUBLIC } }, async () => 'x');
      });
      await built.ready();
      return built;
    });
    await app.close();
    assert.deepEqual(
      routes.map((r) => `${r.method} ${r.path} ${describeRequirement(r.requirement)}`),
      ['GET /inside authenticated', 'POST /inside public'],
    );
  });
});
