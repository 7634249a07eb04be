import { randomBytes } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { decodeProtectedHeader, type JWK } from 'jose';
import { NO_AUDIT_CONTEXT } from '../../src/audit/audit-event.js';
import type { KeyActor } from '../../src/keys/key-management.js';
import type { StoredKeys } from '../../src/keys/stored-keys.js';
import { bearer, startTestApp, type TestApp } from '../support/test-app.js';

/** A controllable clock shared by the instances of one test: time moves, nobody sleeps. */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function testClock(start = Date.now()): TestClock {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

export const OPERATOR: KeyActor = Object.freeze({ userId: null, context: NO_AUDIT_CONTEXT });
export const newKek = (): string => randomBytes(32).toString('base64url');

/**
 * A Gatehouse on stored keys (GATEHOUSE_KEY_SOURCE=store) with the test's clock. Polling is slowed
 * to an hour so a test decides when the scheduler runs (`keys(t).management.advance()`).
 */
export async function startStoreApp(options: {
  clock: TestClock;
  kek?: string;
  env?: Record<string, string>;
  shareWith?: TestApp;
  pollMs?: number;
}): Promise<TestApp> {
  return startTestApp({
    env: { GATEHOUSE_KEY_SOURCE: 'store', GATEHOUSE_KEY_ENCRYPTION_KEY: options.kek ?? newKek(), ...options.env },
    overrides: { signingKeys: undefined, now: options.clock.now, keyPollIntervalMs: options.pollMs ?? 3_600_000 },
    ...(options.shareWith === undefined ? {} : { shareWith: options.shareWith }),
  });
}

export function keys(t: TestApp): StoredKeys {
  const stored = t.services.storedKeys;
  if (stored === undefined) throw new Error('not on stored keys');
  return stored;
}

export async function jwks(t: TestApp): Promise<{ keys: (JWK & { kid: string })[]; cacheControl: string }> {
  const res = await t.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  return { keys: res.json<{ keys: (JWK & { kid: string })[] }>().keys, cacheControl: String(res.headers['cache-control']) };
}

export const kidOf = (token: string): string => decodeProtectedHeader(token).kid as string;

export const me = (t: TestApp, token: string): Promise<LightMyRequestResponse> => t.inject({ method: 'GET', url: '/me', headers: bearer(token) });

/** Every private member of any key type (RFC 7518 §6). */
export const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
