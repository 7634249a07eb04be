import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCodes } from '../../src/errors/errors.js';
import { CASES_PER_OPERATION, malformedRequests, operationsOf, type BaseRequest, type FuzzOperation } from '../support/malformed-requests.js';
import { rawHttpExchange, type RawHttpOutcome, type RawHttpResponse } from '../support/raw-http-exchange.js';
import { bearer, startTestApp, TEST_PASSWORD, type TestApp } from '../support/test-app.js';

const FEED_SECRET = 'fuzz-feed-secret-8Rt2Yu6Io4Pa1Sd3Fg5Hj7';

// Issue 19: an outside fuzzer found 5xx answers, Fastify's and Node's own error bodies (one echoing
// the query with its token) and bare 400/414/417s. This is that fuzzer, kept: every operation of
// /openapi.json gets the same seeded set of malformed requests over raw sockets, and every answer
// must be a well-formed refusal or a success, never an outage, an echo or a stack.

const SEED = 19;
const REQUEST_TIMEOUT_MS = 5_000;
/** Helmet's headers, which every answer of the server carries (src/http/security-headers.ts). */
const SECURITY_HEADERS = [
  'content-security-policy',
  'x-content-type-options',
  'x-frame-options',
  'strict-transport-security',
  'referrer-policy',
  'cross-origin-opener-policy',
  'cross-origin-resource-policy',
];
const PROBLEM_KEYS = new Set(['type', 'title', 'status', 'code', 'detail', 'request_id', 'errors', 'required_scopes']);
const OAUTH_KEYS = new Set(['error', 'error_description']);
const STACK = /\n\s+at \S|\bat [\w.<>]+ \(|node:internal|\/src\/|\.[cm]?[jt]s:\d+:\d+|"stack"/;
const FRAMEWORK_CODE = /FST_ERR_|ERR_HTTP_|HPE_[A-Z_]+/;
/** Public routes the document hides (schema.hide); they answer the same malformed requests. */
const HIDDEN_ROUTES = ['/healthz', '/readyz', '/.well-known/jwks.json', '/.well-known/oauth-authorization-server'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A password with U+FFFD: a server that decodes a lone surrogate leniently lands exactly on it. */
const REPLACEMENT_PASSWORD = 'correct horse \uFFFD battery staple';

interface Violation {
  /** Every invariant the answer broke, joined. */
  readonly what: string;
  readonly operation: string;
  readonly variant: string;
  readonly request: string;
  readonly status: string;
  readonly excerpt: string;
}

const header = (res: RawHttpResponse, name: string): string | undefined => res.headers[name]?.[0];
const excerptOf = (res: RawHttpResponse): string => res.body.replace(/\s+/g, ' ').slice(0, 160);

/** What a well-formed refusal must hold: the problem shape, or RFC 6749's where the operation speaks OAuth. */
function shapeViolations(op: FuzzOperation | undefined, res: RawHttpResponse): string[] {
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    return [`${res.status} body is not JSON (content-type ${header(res, 'content-type') ?? 'none'})`];
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return [`${res.status} body is not a JSON object`];
  const fields = body as Record<string, unknown>;
  const contentType = header(res, 'content-type') ?? '';
  const out: string[] = [];
  if (op?.errorStyle === 'oauth' && 'error' in fields && !('code' in fields)) {
    if (!/^application\/json\b/.test(contentType)) out.push(`OAuth error with content-type ${contentType || 'none'}`);
    if (typeof fields.error !== 'string') out.push('OAuth error without a string "error"');
    if (Object.keys(fields).some((k) => !OAUTH_KEYS.has(k))) out.push(`OAuth error with extra members (${Object.keys(fields).join(', ')})`);
    if (header(res, 'cache-control') !== 'no-store') out.push('OAuth error without cache-control: no-store');
    return out;
  }
  if (!/^application\/problem\+json\b/.test(contentType)) out.push(`${res.status} with content-type ${contentType || 'none'}, not application/problem+json`);
  if (!('type' in fields) && !('request_id' in fields)) return [...out, `not a problem body (members: ${Object.keys(fields).join(', ')})`];
  const code = fields.code;
  if (typeof code !== 'string' || !(ErrorCodes as readonly string[]).includes(code)) out.push(`problem without a known code (${JSON.stringify(code)})`);
  else if (fields.type !== `urn:gatehouse:error:${code}`) out.push('problem type does not match its code');
  if (fields.status !== res.status) out.push(`problem status ${JSON.stringify(fields.status)} is not the HTTP status`);
  if (typeof fields.title !== 'string' || typeof fields.detail !== 'string') out.push('problem without title and detail');
  if (fields.request_id === undefined || fields.request_id !== header(res, 'x-request-id')) out.push('problem request_id is not the x-request-id header');
  const extra = Object.keys(fields).filter((k) => !PROBLEM_KEYS.has(k));
  if (extra.length > 0) out.push(`problem with members outside the schema (${extra.join(', ')})`);
  return out;
}

/** Every invariant one answer breaks; `baseline` is a normal answer's security headers. */
function violationsOf(
  op: FuzzOperation,
  expect: 'refuse' | 'any',
  canary: string,
  outcome: RawHttpOutcome,
  baseline: Readonly<Record<string, string>>,
): { status: string; what: string[]; excerpt: string } {
  if (outcome.kind === 'no-response') return { status: '-', what: [outcome.reason], excerpt: '' };
  const res = outcome.response;
  const what: string[] = [];
  if (!(res.status >= 200 && res.status < 500)) what.push(`status ${res.status}`);
  if (expect === 'refuse' && res.status < 400) what.push('accepted though malformed');
  if (!UUID.test(header(res, 'x-request-id') ?? '')) what.push('no x-request-id');
  const missing = Object.entries(baseline)
    .filter(([name, value]) => header(res, name) !== value)
    .map(([name]) => name);
  if (missing.length > 0) what.push(`security headers missing or different: ${missing.length === Object.keys(baseline).length ? 'all' : missing.join(', ')}`);
  if (res.status >= 400) what.push(...shapeViolations(op, res));
  if (res.text.toLowerCase().includes(canary.toLowerCase())) what.push('echoes the secret marker sent in the request');
  if (STACK.test(res.body)) what.push('stack trace or source path in the body');
  if (FRAMEWORK_CODE.test(res.text)) what.push(`framework error code in the answer (${FRAMEWORK_CODE.exec(res.text)?.[0]})`);
  return { status: String(res.status), what, excerpt: excerptOf(res) };
}

/** One entry per distinct set of broken invariants and status: the malformations and operations it came from, one example. */
function report(violations: readonly Violation[]): string {
  const groups = new Map<string, { sample: Violation; operations: Set<string>; statuses: Set<string>; variants: Map<string, number>; count: number }>();
  for (const v of violations) {
    // A malformed answer is one defect whatever provoked it; an accepted malformation is one defect per malformation.
    const key = v.what.startsWith('accepted') ? `${v.what}\u0000${v.variant}` : `${v.what}\u0000${v.status}`;
    const group = groups.get(key) ?? { sample: v, operations: new Set(), statuses: new Set(), variants: new Map(), count: 0 };
    group.operations.add(v.operation);
    group.statuses.add(v.status);
    group.variants.set(v.variant, (group.variants.get(v.variant) ?? 0) + 1);
    group.count++;
    groups.set(key, group);
  }
  const list = (items: readonly string[], max: number) => `${items.slice(0, max).join('; ')}${items.length > max ? `; and ${items.length - max} more` : ''}`;
  const lines = [...groups.values()]
    .sort((a, b) => a.sample.what.localeCompare(b.sample.what))
    .map(({ sample, operations, statuses, variants, count }) =>
      [
        `- ${sample.status === '-' ? '' : `${[...statuses].sort().join('/')} `}${sample.what} (×${count}, ${operations.size} operations)`,
        `    from: ${list(
          [...variants].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ×${n}`),
          6,
        )}`,
        `    e.g.: ${sample.operation} ← ${sample.request}`,
        `    got:  ${sample.excerpt}`,
      ].join('\n'),
    );
  return `${violations.length} answers broke an invariant, in ${groups.size} groups:\n${lines.join('\n')}`;
}

describe('every OpenAPI operation under malformed requests (issue 19)', () => {
  let t: TestApp;
  let port: number;
  let authority: string;
  let baseline: Record<string, string>;
  let operations: FuzzOperation[];
  /** Accounts made before the run, and what must still hold for them after it. */
  const fixtureIds = new Set<string>();
  // GET /revocations takes a machine secret, not a user's token: fuzzed with the configured one.
  const tokens = { actor: '', admin: '', victim: '', password: '', feed: FEED_SECRET };
  const usernames = { actor: 'fz-actor', admin: 'fz-admin', password: 'fz-password' } as const;
  /** fz-password's password as the last accepted change set it (a case that gets through may change it). */
  let currentPassword = TEST_PASSWORD;
  let victimRefresh = '';
  let victimSession = '';
  let loginRefresh = '';
  /** Every account a 201 reported, and whether the request that made it had to be refused. */
  const registered = new Map<string, { expect: 'refuse' | 'any'; variant: string }>();
  const violations: Violation[] = [];
  const statuses = new Map<string, number>();
  /** Each documented operation's statuses: an answer outside them is a gap in /openapi.json. */
  const documented = new Map<string, Set<string>>();
  let requests = 0;

  const formLogin = async (username: string, password = TEST_PASSWORD) => {
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'password', username, password }).toString(),
    });
    return { status: res.statusCode, body: res.statusCode === 200 ? (res.json() as { access_token: string; refresh_token: string }) : undefined };
  };
  const jsonLogin = async (username: string, password: string) => {
    const res = await t.inject({ method: 'POST', url: '/auth/login', payload: { username, password } });
    return { status: res.statusCode, body: res.statusCode === 200 ? (res.json() as { access_token: string; refresh_token: string }) : undefined };
  };
  const register = async (username: string, password = TEST_PASSWORD) => {
    const user = await t.register(username, password);
    fixtureIds.add(user.id);
    return user.id;
  };
  const sessionsOf = async (token: string) =>
    (await t.inject({ method: 'GET', url: '/me/sessions', headers: bearer(token) })).json() as { id: string; current: boolean }[];
  /** A token that died (logout, logout-all, a password change) is replaced before the next case. */
  const keepAlive = async (role: keyof typeof usernames) => {
    if ((await t.inject({ method: 'GET', url: '/me', headers: bearer(tokens[role]) })).statusCode === 200) return;
    // JSON: a form cannot carry every password a JSON change may have set (U+FFFD is refused there).
    const { body } = await jsonLogin(usernames[role], role === 'password' ? currentPassword : TEST_PASSWORD);
    assert.ok(body !== undefined, `${usernames[role]} can no longer log in`);
    tokens[role] = body.access_token;
  };
  /** Whose token an operation runs with: the password change has its own user, so nobody else's password moves. */
  const roleOf = (op: FuzzOperation): keyof typeof usernames | 'feed' | undefined =>
    op.scopes === undefined
      ? undefined
      : op.path === '/revocations'
        ? 'feed'
        : op.scopes.some((s) => s.startsWith('admin:'))
          ? 'admin'
          : op.path === '/me/password'
            ? 'password'
            : 'actor';
  const trackPasswordChange = (sent: Buffer) => {
    const text = sent.toString('utf8');
    try {
      const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4).replace(/^\uFEFF/, '')) as { new_password?: unknown };
      if (typeof body.new_password === 'string') currentPassword = body.new_password;
    } catch {
      // Not JSON the server could have taken either; the login after the run tells.
    }
  };

  /** Valid path values, bodies and credentials per operation; created afresh where cases consume them. */
  async function prepare(op: FuzzOperation): Promise<(index: number) => BaseRequest> {
    const role = roleOf(op);
    await keepAlive('actor');
    await keepAlive('admin');
    const needsTarget = op.pathParams.includes('id') || op.pathParams.includes('user');
    const targetId = needsTarget && !op.path.startsWith('/me/') ? await register(`fz-target-${fixtureIds.size}`) : undefined;
    let spareSession: string | undefined;
    if (op.path.startsWith('/me/sessions/')) {
      await formLogin('fz-actor');
      spareSession = (await sessionsOf(tokens.actor)).find((s) => !s.current)?.id;
    }
    if (op.path.includes('/tenants/{tenant}/members/{user}') && targetId !== undefined) {
      assert.equal((await t.inject({ method: 'PUT', url: `/admin/tenants/fz-tenant/members/${targetId}`, headers: bearer(tokens.admin) })).statusCode, 200);
      if (op.pathParams.includes('role'))
        await t.inject({
          method: 'POST',
          url: `/admin/tenants/fz-tenant/members/${targetId}/roles`,
          headers: bearer(tokens.admin),
          payload: { role: 'editor' },
        });
    }
    if (op.path === '/admin/users/{id}/roles/{role}' && targetId !== undefined) await t.services.userDirectory.changeRole(targetId, { grant: 'support' });
    const pathValue = (name: string): string => {
      if (name === 'id') return spareSession ?? targetId ?? '';
      if (name === 'user') return targetId ?? '';
      if (name === 'tenant') return 'fz-tenant';
      if (name === 'role') return op.path.includes('/tenants/') ? 'editor' : 'support';
      return 'fuzz';
    };
    const bodyValues = (index: number): Record<string, unknown> => {
      switch (`${op.method} ${op.path}`) {
        case 'POST /auth/register':
          return { username: `fzr${index}`, email: `fzr${index}@example.test`, password: TEST_PASSWORD };
        case 'POST /auth/login':
          return { username: 'fz-login', password: REPLACEMENT_PASSWORD };
        // A form body holding U+FFFD is refused as undecodable, so the form login has a plain password.
        case 'POST /auth/token':
          return { grant_type: 'password', username: 'fz-form', password: TEST_PASSWORD, scope: 'profile' };
        case 'POST /auth/refresh':
          return { refresh_token: loginRefresh };
        case 'POST /auth/revoke':
          return { token: loginRefresh, token_type_hint: 'refresh_token' };
        case 'POST /admin/tenants':
          return { slug: `fzt${index}`, name: 'Fuzz tenant' };
        // The same password as new: a case that gets through changes nothing the later ones need.
        case 'POST /me/password':
          return { current_password: currentPassword, new_password: currentPassword };
        default:
          return { role: op.path.includes('/tenants/') ? 'editor' : 'support' };
      }
    };
    const schema = op.body?.schema;
    return (index) => {
      const values = bodyValues(index);
      const body =
        schema === undefined
          ? undefined
          : Object.fromEntries(
              Object.keys(schema.properties ?? {}).flatMap((k) => (k in values ? [[k, values[k]]] : (schema.required ?? []).includes(k) ? [[k, 'fuzz']] : [])),
            );
      return {
        pathValues: Object.fromEntries(op.pathParams.map((n) => [n, pathValue(n)])),
        query: [],
        body,
        token: role === undefined ? undefined : tokens[role],
        // A non-admin on an admin route; another user's token on the actor's own session, and the actor on another's.
        foreignToken: role === 'admin' ? tokens.actor : spareSession !== undefined ? tokens.victim : undefined,
        ...(spareSession === undefined ? {} : { foreignPathValues: { id: victimSession } }),
      };
    };
  }

  before(async () => {
    const limitsOff = Object.fromEntries(
      ['LOGIN_USER_IP', 'LOGIN_USER', 'LOGIN_IP', 'REGISTER_IP', 'REFRESH_SESSION', 'PASSWORD_CHANGE_USER', 'REVOKE_IP', 'GLOBAL_IP'].map((n) => [
        `GATEHOUSE_LIMIT_${n}`,
        'off',
      ]),
    );
    // Limits off so the fuzzing reaches validation rather than 429 after the first hundred requests.
    t = await startTestApp({ env: { ...limitsOff, GATEHOUSE_REVOCATION_FEED_SECRETS: FEED_SECRET } });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const address = t.app.server.address();
    assert.ok(address !== null && typeof address === 'object');
    port = address.port;
    authority = `127.0.0.1:${port}`;

    const health = await rawHttpExchange(port, Buffer.from(`GET /healthz HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`), REQUEST_TIMEOUT_MS);
    assert.equal(health.kind, 'response');
    baseline = Object.fromEntries(SECURITY_HEADERS.map((name) => [name, header(health.response, name) ?? '']));
    for (const [name, value] of Object.entries(baseline)) assert.notEqual(value, '', `a normal answer carries ${name}`);
    const openapi = await rawHttpExchange(
      port,
      Buffer.from(`GET /openapi.json HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`),
      REQUEST_TIMEOUT_MS,
    );
    assert.ok(openapi.kind === 'response' && openapi.response.status === 200);
    const hidden = HIDDEN_ROUTES.map((path): FuzzOperation => ({
      method: 'GET',
      path,
      pathParams: [],
      query: [],
      body: undefined,
      scopes: undefined,
      errorStyle: 'problem',
    }));
    const document = JSON.parse(openapi.response.body) as Parameters<typeof operationsOf>[0];
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, op] of Object.entries(methods)) documented.set(`${method.toUpperCase()} ${path}`, new Set(Object.keys(op.responses ?? {})));
    }
    operations = [...operationsOf(document), ...hidden];

    await register('fz-victim');
    const victim = (await formLogin('fz-victim')).body!;
    tokens.victim = victim.access_token;
    victimRefresh = victim.refresh_token;
    victimSession = (await sessionsOf(victim.access_token)).find((s) => s.current)!.id;
    await register('fz-login', REPLACEMENT_PASSWORD);
    loginRefresh = (await jsonLogin('fz-login', REPLACEMENT_PASSWORD)).body!.refresh_token;
    await register('fz-form');
    await register('fz-actor');
    tokens.actor = (await formLogin('fz-actor')).body!.access_token;
    await register('fz-password');
    tokens.password = (await formLogin('fz-password')).body!.access_token;
    const adminId = await register('fz-admin');
    await t.services.userDirectory.changeRole(adminId, { grant: 'admin' });
    tokens.admin = (await formLogin('fz-admin')).body!.access_token;
    assert.equal((await t.inject({ method: 'POST', url: '/admin/tenants', headers: bearer(tokens.admin), payload: { slug: 'fz-tenant' } })).statusCode, 201);
  });
  after(() => t.close());

  test(`every operation answers ${CASES_PER_OPERATION} malformed requests with a well-formed refusal or a success`, async (ctx) => {
    assert.ok(operations.length >= 30 + HIDDEN_ROUTES.length, `the document lists ${operations.length - HIDDEN_ROUTES.length} operations`);
    const started = performance.now();
    for (const [operationIndex, op] of operations.entries()) {
      const base = await prepare(op);
      const name = `${op.method} ${op.path}`;
      const cases = malformedRequests(op, { seed: SEED, operationIndex, authority, base });
      assert.ok(cases.length >= 40, `${name}: only ${cases.length} cases`);
      const role = roleOf(op);
      for (const kase of cases) {
        if (role !== undefined && role !== 'feed') await keepAlive(role);
        const { canary, bytes, summary } = kase.build();
        const outcome = await rawHttpExchange(port, bytes, REQUEST_TIMEOUT_MS);
        requests++;
        const { status, what, excerpt } = violationsOf(op, kase.expect, canary, outcome, baseline);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const statusesOfOp = documented.get(name);
        if (statusesOfOp !== undefined && status !== '-' && !statusesOfOp.has(status)) what.push(`status ${status} is not documented for the operation`);
        if (what.length > 0)
          violations.push({ what: what.join(' + '), operation: name, variant: `${kase.family}: ${kase.variant}`, request: summary, status, excerpt });
        if (name === 'POST /me/password' && outcome.kind === 'response' && outcome.response.status < 300) trackPasswordChange(bytes);
        // Both create an account (a person, a service account): what a 201 reported is accounted for.
        if ((name === 'POST /auth/register' || name === 'POST /admin/service-accounts') && outcome.kind === 'response' && outcome.response.status === 201) {
          registered.set((JSON.parse(outcome.response.body) as { id: string }).id, { expect: kase.expect, variant: `${kase.family}: ${kase.variant}` });
        }
      }
    }
    ctx.diagnostic(
      `${requests} requests over ${operations.length} operations in ${Math.round(performance.now() - started)} ms; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => String(a).localeCompare(String(b)))))}`,
    );

    // The server and its data came through: it answers, and every account is as it was.
    const health = await rawHttpExchange(port, Buffer.from(`GET /healthz HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`), REQUEST_TIMEOUT_MS);
    const stateCheck = (what: string, ok: boolean) => {
      if (!ok) violations.push({ what, operation: 'after the run', variant: 'state check', request: '-', status: '-', excerpt: '' });
    };
    stateCheck('/healthz no longer answers 200', health.kind === 'response' && health.response.status === 200);
    for (const username of ['fz-victim', 'fz-form', 'fz-actor', 'fz-admin'])
      stateCheck(`${username} can no longer log in with its password`, (await formLogin(username)).status === 200);
    stateCheck('fz-password can no longer log in with the password last set', (await jsonLogin('fz-password', currentPassword)).status === 200);
    stateCheck('fz-login can no longer log in with its password', (await jsonLogin('fz-login', REPLACEMENT_PASSWORD)).status === 200);
    stateCheck(
      "the victim's session was ended by another user's requests",
      (await sessionsOf((await formLogin('fz-victim')).body!.access_token)).some((s) => s.id === victimSession),
    );
    stateCheck(
      "the victim's refresh token no longer works",
      (await t.inject({ method: 'POST', url: '/auth/refresh', payload: { refresh_token: victimRefresh } })).statusCode === 200,
    );
    const everyone = await t.services.userDirectory.list({ limit: 10_000 });
    for (const user of everyone.filter((u) => !fixtureIds.has(u.id) && registered.get(u.id)?.expect !== 'any')) {
      const by = registered.get(user.id);
      stateCheck(
        by === undefined
          ? `an account exists that no 201 answer reported (${JSON.stringify(user.username)})`
          : `an account was created by a request that had to be refused (${by.variant})`,
        false,
      );
    }
    // A refusal is logged at info; error level is for what the server could not handle.
    const errorLogs = new Map<string, number>();
    for (const r of t.logs.records().filter((r) => typeof r.level === 'number' && r.level >= 50)) {
      const key = `${String(r.msg)} ${String(r.err_code ?? '')}`.trim();
      errorLogs.set(key, (errorLogs.get(key) ?? 0) + 1);
    }
    for (const [msg, count] of errorLogs)
      violations.push({ what: `logged at error level: ${msg}`, operation: 'server log', variant: `${count} lines`, request: '-', status: '-', excerpt: '' });

    if (violations.length > 0) assert.fail(report(violations));
  });
});
