import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

export const ISSUER = 'https://issuer.test';
export const AUDIENCE = 'https://api.test';
export const USER_ID = '3f0c8a52-8a3e-4d59-9a57-0d6f1c2b7e41';

export interface TestKey {
  readonly kid: string;
  readonly alg: 'EdDSA' | 'ES256' | 'RS256';
  readonly privateKey: CryptoKey;
  /** Public members only, with kid, alg and use, as Gatehouse publishes them. */
  readonly publicJwk: JWK;
}

export async function testKey(alg: TestKey['alg'] = 'EdDSA', kid: string = `k-${randomUUID().slice(0, 8)}`): Promise<TestKey> {
  const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  return { kid, alg, privateKey: pair.privateKey, publicJwk: { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' } };
}

/** Claims a Gatehouse would mint now. A value of `undefined` removes the claim. */
export function claims(overrides: Record<string, unknown> = {}, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, unknown> {
  const base: Record<string, unknown> = {
    iss: ISSUER,
    sub: USER_ID,
    aud: AUDIENCE,
    iat: nowSeconds,
    exp: nowSeconds + 300,
    jti: randomUUID(),
    client_id: 'gatehouse-cli',
    scope: 'profile',
    sid: randomUUID(),
    ...overrides,
  };
  for (const [name, value] of Object.entries(base)) if (value === undefined) delete base[name];
  return base;
}

export function sign(key: TestKey, payload: Record<string, unknown> = claims(), header: Record<string, unknown> = {}): Promise<string> {
  const protectedHeader: Record<string, unknown> = { alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header };
  for (const [name, value] of Object.entries(protectedHeader)) if (value === undefined) delete protectedHeader[name];
  return new SignJWT(payload).setProtectedHeader(protectedHeader as { alg: string }).sign(key.privateKey);
}

export const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A real local HTTP server playing the issuer's JWKS endpoint; every request is counted. */
export interface JwksServer {
  readonly url: string;
  /** Requests answered so far. */
  readonly requests: number;
  keys: unknown[];
  cacheControl: string | undefined;
  /** While true the endpoint answers 503 (the issuer is down). */
  down: boolean;
  /** Delay before answering, in ms. */
  delayMs: number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: unknown[] = []): Promise<JwksServer> {
  let requests = 0;
  const state = { keys, cacheControl: 'public, max-age=300' as string | undefined, down: false, delayMs: 0 };
  const server: Server = createServer((_request, res) => {
    requests++;
    setTimeout(() => {
      if (state.down) {
        res.writeHead(503).end();
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'application/jwk-set+json' };
      if (state.cacheControl !== undefined) headers['cache-control'] = state.cacheControl;
      res.writeHead(200, headers).end(JSON.stringify({ keys: state.keys }));
    }, state.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const handle = Object.assign(state, {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    requests: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  // A live count (Object.assign would copy a getter's value once).
  Object.defineProperty(handle, 'requests', { get: () => requests });
  return handle;
}

/** A clock tests move by hand (ms). */
export function manualClock(start = Date.now()): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** A real Gatehouse (test/support/test-app.ts) listening on a port, as other services see it. */
export interface ListeningGatehouse {
  readonly gatehouse: import('../support/test-app.js').TestApp;
  readonly baseUrl: string;
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri: string;
  /** A user and a password-grant token response from POST /auth/token. */
  login(username: string, extra?: Record<string, string>): Promise<{ access_token: string; refresh_token: string; scope: string }>;
  close(): Promise<void>;
}

export async function startListeningGatehouse(options: import('../support/test-app.js').TestAppOptions = {}): Promise<ListeningGatehouse> {
  const { startTestApp, TEST_PASSWORD } = await import('../support/test-app.js');
  const gatehouse = await startTestApp(options);
  const address = await gatehouse.app.listen({ port: 0, host: '127.0.0.1' });
  const registered = new Set<string>();
  return {
    gatehouse,
    baseUrl: address,
    issuer: gatehouse.services.config.issuer,
    audience: gatehouse.services.config.audience[0],
    jwksUri: `${address}/.well-known/jwks.json`,
    async login(username, extra = {}) {
      if (!registered.has(username)) {
        await gatehouse.register(username);
        registered.add(username);
      }
      const res = await fetch(`${address}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username, password: TEST_PASSWORD, ...extra }),
      });
      if (res.status !== 200) throw new Error(`login ${username}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { access_token: string; refresh_token: string; scope: string };
    },
    close: () => gatehouse.close(),
  };
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the elapsed ms. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await check()) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The server's own pub/sub feed (Redis in the real pass, the in-process store in the embedded
 * one) behind a link the test can cut: while cut, messages are lost, as pub/sub loses them; when
 * restored it reports the resubscribe, as the Redis transport does.
 */
export function cuttableFeed(server: ListeningGatehouse): import('../../packages/verify/src/index.js').RevocationFeed & { cut(): void; restore(): void } {
  let up = true;
  let resubscribed: (() => void) | undefined;
  let lost: (() => void) | undefined;
  return {
    cut() {
      up = false;
      lost?.();
    },
    restore() {
      up = true;
      resubscribed?.();
    },
    subscribe(onMessage, onResubscribed, onLost) {
      resubscribed = onResubscribed;
      lost = onLost;
      return server.gatehouse.services.ephemeral.subscribe('revocations', { onMessage: (m) => up && onMessage(m), onResubscribed: () => onResubscribed?.() });
    },
  };
}
