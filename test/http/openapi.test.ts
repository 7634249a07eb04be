import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestApp, TEST_ISSUER, type TestApp } from '../support/test-app.js';

interface OpenApiDocument {
  openapi: string;
  components: { securitySchemes: Record<string, { type: string; flows: { password?: { tokenUrl: string; scopes: Record<string, string> } } }> };
  paths: Record<
    string,
    Record<string, { security?: Record<string, string[]>[]; responses: Record<string, unknown>; requestBody?: { content: Record<string, unknown> } }>
  >;
}

describe('OpenAPI document and Swagger UI', () => {
  let t: TestApp;
  let doc: OpenApiDocument;

  before(async () => {
    t = await startTestApp();
    const res = await t.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json\b/);
    doc = res.json();
  });
  after(() => t.close());

  test('GET /openapi.json is public and OpenAPI 3.1', () => {
    assert.equal(doc.openapi, '3.1.0');
  });

  test("an OAuth 2 password flow whose tokenUrl is the issuer's /auth/token, offering the profile scope", () => {
    const scheme = doc.components.securitySchemes.oauth2;
    assert.equal(scheme?.type, 'oauth2');
    const password = scheme?.flows.password;
    assert.ok(password !== undefined, 'no password flow');
    assert.match(password.tokenUrl, /\/auth\/token$/);
    assert.equal(password.tokenUrl, `${TEST_ISSUER}/auth/token`);
    assert.equal(typeof password.scopes.profile, 'string');
  });

  test('GET /me is documented with the oauth2 profile requirement, an API key or the session cookie, and a 401', () => {
    const me = doc.paths['/me']?.get;
    assert.ok(me !== undefined, '/me is not documented');
    assert.deepEqual(me.security, [{ oauth2: ['profile'] }, { apiKey: [] }, { sessionCookie: [] }]);
    assert.ok('200' in me.responses && '401' in me.responses);
  });

  test('/auth/token is documented as taking a form body; public routes carry no security requirement', () => {
    const token = doc.paths['/auth/token']?.post;
    assert.ok(token !== undefined);
    assert.deepEqual(Object.keys(token.requestBody?.content ?? {}), ['application/x-www-form-urlencoded']);
    assert.equal(token.security, undefined);
    assert.equal(doc.paths['/auth/register']?.post?.security, undefined);
  });

  test('the document leaks no internal routes', () => {
    for (const hidden of ['/healthz', '/readyz', '/openapi.json']) assert.equal(doc.paths[hidden], undefined, hidden);
  });

  test('GET /docs serves the Swagger UI page, no token needed, framed by nobody', async () => {
    let res = await t.inject({ method: 'GET', url: '/docs' });
    if (res.statusCode >= 300 && res.statusCode < 400) res = await t.inject({ method: 'GET', url: String(res.headers.location) });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/html\b/);
    assert.match(res.body, /swagger-ui/i);
    assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
    const slash = await t.inject({ method: 'GET', url: '/docs/' });
    assert.equal(slash.statusCode, 200);
  });
});

describe('routes are protected by default: an undeclared route stops startup', () => {
  /** Handles that a leaked database, Redis client or store sweeper would leave behind. */
  const heldResources = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'TCPSocketWrap' || r === 'TCPWrap').length;

  test('a route without config.auth: startTestApp rejects naming the route, and leaks nothing', async () => {
    const before = heldResources();
    await assert.rejects(
      startTestApp({
        extraRoutes: (app) => {
          app.get('/undeclared-route', async () => ({ ok: true }));
        },
      }),
      (error: Error) => {
        assert.equal(error.name, 'UndeclaredRouteError');
        assert.match(error.message, /GET \/undeclared-route/);
        assert.match(error.message, /config\.auth/);
        return true;
      },
    );
    assert.equal(heldResources(), before, 'a failed startup left stores open');
  });

  test('a route hidden in a nested plugin scope is caught too', async () => {
    await assert.rejects(
      startTestApp({
        extraRoutes: async (app) => {
          await app.register(async (scope) => {
            scope.post('/internal/backdoor', async () => ({ ok: true }));
          });
        },
      }),
      /POST \/internal\/backdoor/,
    );
  });

  test('an invalid requirement (public plus scopes) stops startup naming the route', async () => {
    await assert.rejects(
      startTestApp({
        extraRoutes: (app) => {
          app.get('/confused', { config: { auth: { public: true, scopes: ['profile'] } as never } }, async () => ({ ok: true }));
        },
      }),
      /GET \/confused/,
    );
  });

  test('a declared public route starts fine', async () => {
    const t = await startTestApp({
      extraRoutes: (app) => {
        app.get('/declared', { config: { auth: { public: true } } }, async () => ({ ok: true }));
      },
    });
    try {
      assert.equal((await t.inject({ method: 'GET', url: '/declared' })).statusCode, 200);
    } finally {
      await t.close();
    }
  });
});
