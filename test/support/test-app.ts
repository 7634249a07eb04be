import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { loadConfig } from '../../src/config/config.js';
import { buildApp, type BuildAppOptions } from '../../src/http/app.js';
import { loggerOptions } from '../../src/http/logger.js';
import { generateSigningJwk } from '../../src/keys/development-keys.js';
import type { PrivateSigningJwk } from '../../src/keys/signing-key-file.js';
import { createServices, type GatehouseServices, type ServiceOverrides } from '../../src/services.js';
import { createTestStores, withTestTemplate, type TestStores } from './test-stores.js';

export const TEST_ISSUER = 'https://gatehouse.test';
export const TEST_PASSWORD = 'correct horse battery staple';
/** One API key pepper for every app of this process: instances of one deployment share it, and none is written to a data dir. */
export const TEST_API_KEY_PEPPER = randomBytes(32).toString('base64url');

export interface TestApp {
  readonly app: FastifyInstance;
  readonly services: GatehouseServices;
  readonly stores: TestStores;
  readonly signingKeys: readonly PrivateSigningJwk[];
  /** Every log line written so far, as parsed JSON objects and as raw text. */
  readonly logs: { readonly lines: string[]; readonly records: () => Record<string, unknown>[] };
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  register(username: string, password?: string): Promise<{ id: string; username: string }>;
  /** Password grant; returns the parsed token response. */
  login(username: string, password?: string, extra?: Record<string, string>): Promise<{ access_token: string; scope: string; expires_in: number }>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  readonly env?: Record<string, string>;
  readonly overrides?: ServiceOverrides;
  readonly extraRoutes?: BuildAppOptions['extraRoutes'];
  /** Share stores (and keys) with another test app: two instances of one deployment. */
  readonly shareWith?: TestApp;
}

/** A real Gatehouse on the stores of this test pass (embedded or real PostgreSQL + Redis). */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const stores = options.shareWith?.stores ?? (await createTestStores());
  const signingKeys = options.shareWith?.signingKeys ?? [await generateSigningJwk()];
  let services: GatehouseServices | undefined;
  let started: { services: GatehouseServices; app: FastifyInstance; lines: string[] };
  try {
    const config = withTestTemplate(
      loadConfig({
        GATEHOUSE_ENV: 'development',
        GATEHOUSE_ISSUER: TEST_ISSUER,
        GATEHOUSE_DATABASE_URL: stores.databaseUrl,
        GATEHOUSE_REDIS_KEY_PREFIX: stores.redisKeyPrefix,
        GATEHOUSE_LOG_LEVEL: 'info',
        GATEHOUSE_API_KEY_PEPPER: TEST_API_KEY_PEPPER,
        ...(stores.redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: stores.redisUrl }),
        ...options.env,
      }),
    );
    services = await createServices(config, { signingKeys, ...options.overrides });
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(
          ...chunk
            .toString('utf8')
            .split('\n')
            .filter((l) => l.length > 0),
        );
        callback();
      },
    });
    const opts = loggerOptions(config) as pino.LoggerOptions;
    const logger = pino(opts, stream);
    const app = await buildApp(services, { logger, ...(options.extraRoutes === undefined ? {} : { extraRoutes: options.extraRoutes }) });
    started = { services, app, lines };
  } catch (error) {
    // A failed startup (invalid env, undeclared route) must not leak the database, Redis keys or timers.
    await services?.close();
    if (options.shareWith === undefined) await stores.cleanup();
    throw error;
  }
  const { app, lines } = started;

  const testApp: TestApp = {
    app,
    services: started.services,
    stores,
    signingKeys,
    logs: { lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) },
    inject: (o) => app.inject(o),
    async register(username, password = TEST_PASSWORD) {
      const res = await app.inject({ method: 'POST', url: '/auth/register', payload: { username, password } });
      if (res.statusCode !== 201) throw new Error(`register ${username}: ${res.statusCode} ${res.body}`);
      return res.json();
    },
    async login(username, password = TEST_PASSWORD, extra = {}) {
      const res = await app.inject({
        method: 'POST',
        url: '/auth/token',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ grant_type: 'password', username, password, ...extra }).toString(),
      });
      if (res.statusCode !== 200) throw new Error(`login ${username}: ${res.statusCode} ${res.body}`);
      return res.json();
    },
    async close() {
      await app.close();
      await started.services.close();
      if (options.shareWith === undefined) await stores.cleanup();
    },
  };
  return testApp;
}

/** GET with a bearer token. */
export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
