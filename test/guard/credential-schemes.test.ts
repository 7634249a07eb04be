import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { checkRoutes } from '../../src/cli/route-inventory.js';
import { ForbiddenError, InvalidTokenError } from '../../src/errors/errors.js';
import type { Authenticator } from '../../src/guard/authenticator.js';
import type { CredentialScheme } from '../../src/guard/credential-scheme.js';
import type { SessionPrincipal } from '../../src/guard/principal.js';
import { describeRequirement, isValidRequirement } from '../../src/guard/requirement.js';
import { guardPlugin, type GuardPluginOptions } from '../../src/http/guard-plugin.js';
import { registerErrorHandling } from '../../src/http/error-handler.js';

/**
 * The guard's half of the scheme registry: which credential is used when several are present, which
 * checks run after which scheme, and what a page does for a caller who is not signed in. The
 * schemes here are small in-test ones (a cookie named `probe`), so the guard's rules are pinned
 * apart from any real scheme; the session scheme's own tests exercise the real one.
 */
const user = Object.freeze({
  id: '00000000-0000-4000-8000-000000000001',
  username: 'alice',
  email: null,
  emailVerified: false,
  roles: [],
  createdAt: new Date(0),
});

function sessionPrincipal(sessionId: string): SessionPrincipal {
  return Object.freeze({
    via: 'session',
    subject: user.id,
    scopes: new Set(['profile']),
    roles: [],
    sessionId,
    clientId: 'test',
    tokenVersion: 0,
    user,
    expiresAt: 4_000_000_000,
  });
}

/** An ambient scheme: a `probe=<session id>` cookie; the value `bad` fails authentication. */
const probeCookie: CredentialScheme<string> = {
  name: 'session',
  ambient: true,
  read: (request) => /(?:^|;\s*)probe=([^;]+)/.exec(request.header('cookie').join('; '))?.[1],
  async authenticate(value) {
    if (value === 'bad') throw new InvalidTokenError('probe: bad cookie');
    return sessionPrincipal(value);
  },
};

/** Accepts the token `good` only; a real bearer token is the authenticator's own tests' business. */
const authenticator: Authenticator = {
  async authenticate(token) {
    if (token !== 'good') throw new InvalidTokenError('not good');
    return Object.freeze({ ...sessionPrincipal('bearer-session'), via: 'bearer', tokenId: 'j', claims: {} as never, expiresAt: 4_000_000_000 }) as never;
  },
};

async function appWith(
  options: { [K in keyof GuardPluginOptions]?: GuardPluginOptions[K] | undefined },
  routes: (app: FastifyInstance) => void,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  registerErrorHandling(app);
  await app.register(guardPlugin, {
    authenticator,
    fresh: {} as GuardPluginOptions['fresh'],
    secrets: { 'revocation-feed': undefined },
    schemes: { session: probeCookie },
    ambientCheck: () => {},
    // A test's `ambientCheck: undefined` stands for "not configured".
    ...options,
  } as GuardPluginOptions);
  routes(app);
  await app.ready();
  return app;
}

const whoAmI = (app: FastifyInstance, path: string, auth: object) =>
  app.get(path, { config: { auth } }, async (request) => ({ via: request.principal?.via, session: request.principal?.sessionId }));

describe('credential schemes in the guard', () => {
  test('malicious: with an Authorization header present the cookie is never used, even when the header fails', async () => {
    const app = await appWith({}, (a) => whoAmI(a, '/me', { schemes: ['bearer', 'session'] }));
    const bad = await app.inject({ url: '/me', headers: { authorization: 'Bearer wrong', cookie: 'probe=s1' } });
    assert.equal(bad.statusCode, 401);
    // Another scheme in the header (Basic) is not a bearer credential, and still the cookie is not consulted.
    const basic = await app.inject({ url: '/me', headers: { authorization: 'Basic YTpi', cookie: 'probe=s1' } });
    assert.equal(basic.statusCode, 401);
    const good = await app.inject({ url: '/me', headers: { authorization: 'Bearer good', cookie: 'probe=s1' } });
    assert.deepEqual(good.json(), { via: 'bearer', session: 'bearer-session' });
    await app.close();
  });

  test('malicious: a route that accepts bearer only ignores the cookie; one that accepts session only ignores nothing else', async () => {
    const app = await appWith({}, (a) => {
      whoAmI(a, '/bearer-only', {});
      whoAmI(a, '/session-only', { schemes: ['session'] });
    });
    assert.equal((await app.inject({ url: '/bearer-only', headers: { cookie: 'probe=s1' } })).statusCode, 401);
    assert.equal((await app.inject({ url: '/session-only', headers: { authorization: 'Bearer good' } })).statusCode, 401);
    assert.deepEqual((await app.inject({ url: '/session-only', headers: { cookie: 'probe=s1' } })).json(), { via: 'session', session: 's1' });
    await app.close();
  });

  test('malicious: a failed cookie is the same 401 as no credential', async () => {
    const app = await appWith({}, (a) => whoAmI(a, '/me', { schemes: ['bearer', 'session'] }));
    const none = await app.inject({ url: '/me' });
    const bad = await app.inject({ url: '/me', headers: { cookie: 'probe=bad' } });
    assert.equal(none.statusCode, 401);
    assert.equal(bad.statusCode, 401);
    const shape = (body: Record<string, unknown>) => ({ ...body, instance: undefined, request_id: undefined });
    assert.deepEqual(shape(bad.json()), shape(none.json()));
    assert.equal(bad.headers['www-authenticate'], none.headers['www-authenticate']);
    await app.close();
  });

  test('the cross-site check runs after an ambient credential only, and its refusal stands', async () => {
    const checked: string[] = [];
    const app = await appWith(
      {
        ambientCheck: (request, jsonEndpoint) => {
          checked.push(`${request.method} json=${jsonEndpoint}`);
          if (request.header('x-cross')[0] === '1') throw new ForbiddenError('probe: cross-site');
        },
      },
      (a) => {
        a.post('/me/thing', { config: { auth: { schemes: ['bearer', 'session'] } } }, async () => ({ ok: true }));
        a.post('/me/json', { config: { auth: { schemes: ['session'] } }, schema: { body: { type: 'object' } } }, async () => ({ ok: true }));
      },
    );
    assert.equal((await app.inject({ method: 'POST', url: '/me/thing', headers: { cookie: 'probe=s1', 'x-cross': '1' } })).statusCode, 403);
    assert.equal((await app.inject({ method: 'POST', url: '/me/thing', headers: { authorization: 'Bearer good', 'x-cross': '1' } })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/me/thing', headers: { cookie: 'probe=s1' } })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/me/json', headers: { cookie: 'probe=s1' }, payload: {} })).statusCode, 200);
    assert.deepEqual(checked, ['POST json=false', 'POST json=false', 'POST json=true']);
    await app.close();
  });

  test('a page sends a caller without a valid credential to sign-in, and back afterwards', async () => {
    const app = await appWith({}, (a) => whoAmI(a, '/account', { schemes: ['session'], page: true }));
    for (const cookie of [undefined, 'probe=bad']) {
      const res = await app.inject({ url: '/account?tab=sessions', headers: cookie === undefined ? {} : { cookie } });
      assert.equal(res.statusCode, 303);
      assert.equal(res.headers.location, '/login?return_to=%2Faccount%3Ftab%3Dsessions');
      assert.equal(res.headers['cache-control'], 'no-store');
    }
    assert.equal((await app.inject({ url: '/account', headers: { cookie: 'probe=s1' } })).statusCode, 200);
    await app.close();
  });

  test('malicious: an ambient scheme without the cross-site checks fails startup', async () => {
    await assert.rejects(
      appWith({ ambientCheck: undefined }, (a) => whoAmI(a, '/me', { schemes: ['session'] })),
      /ambient credential scheme needs the cross-site checks/,
    );
  });

  test('malicious: a route accepting a scheme the app does not provide fails startup', async () => {
    await assert.rejects(
      appWith({ schemes: {} }, (a) => whoAmI(a, '/me', { schemes: ['bearer', 'session'] })),
      /accepts the session scheme, which this app does not provide/,
    );
  });

  test('requirements: scheme lists are validated and described', () => {
    assert.equal(isValidRequirement({ schemes: [] }), false);
    assert.equal(isValidRequirement({ schemes: ['cookie'] }), false);
    assert.equal(isValidRequirement({ schemes: ['session', 'session'] }), false);
    assert.equal(isValidRequirement({ schemes: 'session' }), false);
    assert.equal(isValidRequirement({ page: 'yes' }), false);
    assert.equal(isValidRequirement({ schemes: ['session', 'bearer'], page: true, scopes: ['profile'] }), true);
    assert.equal(describeRequirement({ schemes: ['bearer'] }), 'authenticated');
    assert.equal(describeRequirement({ schemes: ['bearer', 'session'], scopes: ['profile'] }), 'authenticated; via bearer session; scopes all(profile)');
    assert.equal(describeRequirement({ schemes: ['session'], page: true }), 'authenticated; via session; page');
  });

  test('gatehouse routes: the OpenAPI document must list the session cookie exactly when the route accepts it', () => {
    const route = (path: string, auth: object) => ({ method: 'GET', path, requirement: auth, hidden: false });
    const reports = checkRoutes(
      [
        route('/both', { schemes: ['bearer', 'session'], scopes: ['profile'] }),
        route('/both-undocumented-cookie', { schemes: ['bearer', 'session'], scopes: ['profile'] }),
        route('/bearer-documented-cookie', { scopes: ['profile'] }),
        route('/page', { schemes: ['session'], page: true }),
        route('/page-documented-token', { schemes: ['session'] }),
      ],
      {
        paths: {
          '/both': { get: { security: [{ oauth2: ['profile'] }, { sessionCookie: [] }] } },
          '/both-undocumented-cookie': { get: { security: [{ oauth2: ['profile'] }] } },
          '/bearer-documented-cookie': { get: { security: [{ oauth2: ['profile'] }, { sessionCookie: [] }] } },
          '/page': { get: { security: [{ sessionCookie: [] }] } },
          '/page-documented-token': { get: { security: [{ sessionCookie: [] }, { oauth2: [] }] } },
        },
      },
    );
    assert.deepEqual(
      reports.map((r) => r.flags.map((f) => f.code)),
      [[], ['OPENAPI_MISMATCH'], ['OPENAPI_MISMATCH'], [], ['OPENAPI_MISMATCH']],
    );
    assert.deepEqual(reports[0]!.schemes, ['bearer', 'session']);
    assert.deepEqual(reports[2]!.schemes, ['bearer']);
  });
});
