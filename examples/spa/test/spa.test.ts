import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { asc, eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadConfig } from '../../../src/config/config.js';
import { AUTHENTICATED } from '../../../src/guard/requirement.js';
import { generateSigningJwk } from '../../../src/keys/development-keys.js';
import { createServices, type GatehouseServices } from '../../../src/services.js';
import { refreshTokens } from '../../../src/stores/db/schema.js';
import { freePort } from '../../../test/support/browser-gatehouse.js';
import { chromiumSkip, launchChromium } from '../../../test/support/chromium.js';
import { createTestStores, withTestTemplate, type TestStores } from '../../../test/support/test-stores.js';
import { buildSpa, SPA_CLIENT } from '../src/app.js';

const PASSWORD = 'correct horse battery staple';
const TABS = 5;
/** The tabs' lock timeout: short, so the hung-tab test recovers quickly. */
const LOCK_TIMEOUT_MS = 1_500;
/** Past the access tokens' 60 s and the verifier's 5 s leeway, on the server's clock only. */
const PAST_EXPIRY_MS = 70_000;

/** Takes the client's refresh lock and never lets go; resolves once it is held. */
const HOLD_THE_LOCK = `new Promise((resolve) => {
  navigator.locks.request('gatehouse-client:spa:refresh', () => { resolve(); return new Promise(() => {}); });
})`;

/** Window globals the example page sets (examples/spa/public/app.js). */
interface SpaWindow {
  spa: { ready: Promise<boolean>; events: string[]; call(path: string): Promise<{ status: number; body: string }> };
}

interface RunningSpa {
  readonly base: string;
  readonly services: GatehouseServices;
  /** Moves the server's clock (and only the server's) forward. */
  advance(ms: number): void;
  /** Requests of the API route that answers 401 for its own reasons. */
  ownRefusals(): number;
  close(): Promise<void>;
}

async function startSpa(graceSeconds: number): Promise<RunningSpa> {
  const stores: TestStores = await createTestStores();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let offset = 0;
  let refusals = 0;
  const config = withTestTemplate(
    loadConfig({
      GATEHOUSE_ENV: 'development',
      GATEHOUSE_ISSUER: `${base}/identity`,
      GATEHOUSE_DATABASE_URL: stores.databaseUrl,
      GATEHOUSE_REDIS_KEY_PREFIX: stores.redisKeyPrefix,
      GATEHOUSE_ACCESS_TOKEN_TTL: '60',
      GATEHOUSE_REFRESH_GRACE_SECONDS: String(graceSeconds),
      GATEHOUSE_LOG_LEVEL: 'silent',
      ...(stores.redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: stores.redisUrl }),
    }),
  );
  const services = await createServices(config, { signingKeys: [await generateSigningJwk()], clients: [SPA_CLIENT], now: () => Date.now() + offset });
  let app: FastifyInstance | undefined;
  try {
    app = await buildSpa({
      gatehouse: { services },
      routes: (spa) =>
        spa.get('/api/own-401', { config: { auth: AUTHENTICATED } }, async (_request, reply) => {
          refusals++;
          return reply.code(401).send({ reason: 'not for you, says the API' });
        }),
    });
    await app.listen({ host: '127.0.0.1', port });
  } catch (error) {
    await app?.close();
    await services.close();
    await stores.cleanup();
    throw error;
  }
  const listening = app;
  return {
    base,
    services,
    advance: (ms) => (offset += ms),
    ownRefusals: () => refusals,
    close: async () => {
      await listening.close();
      await services.close();
      await stores.cleanup();
    },
  };
}

describe('examples/spa in Chromium: one refresh across tabs, the refresh token out of reach', { skip: chromiumSkip() }, () => {
  let browser: Browser;
  let users = 0;
  before(async () => {
    browser = await launchChromium();
  });
  after(() => browser?.close());

  /** A fresh user signed in through the page's form in tab 1, and tabs 2..n opened after (no refresh: the handoff). */
  async function signedInTabs(
    spa: RunningSpa,
    count: number,
  ): Promise<{ context: BrowserContext; pages: Page[]; userId: string; refreshes: () => number; log: readonly string[] }> {
    const username = `spa-user-${++users}`;
    const registered = await fetch(`${spa.base}/identity/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    assert.equal(registered.status, 201);
    const userId = ((await registered.json()) as { id: string }).id;
    const context = await browser.newContext();
    let refreshes = 0;
    /** `<tab>@<time>` of each refresh request, for the message of a failed assertion. */
    const log: string[] = [];
    context.on('request', (request) => {
      if (new URL(request.url()).pathname === '/identity/auth/refresh') {
        refreshes++;
        log.push(`${context.pages().indexOf(request.frame().page())}@${Date.now()}`);
      }
    });
    const url = `${spa.base}/?proactive=0&lockTimeoutMs=${LOCK_TIMEOUT_MS}`;
    const first = await context.newPage();
    await first.goto(url);
    await first.evaluate(() => (globalThis as unknown as SpaWindow).spa.ready);
    await first.fill('input[name=username]', username);
    await first.fill('input[name=password]', PASSWORD);
    await first.click('#sign-in button');
    await first.waitForSelector('#signed-in', { state: 'visible' });
    const pages = [first];
    for (let i = 1; i < count; i++) {
      const page = await context.newPage();
      await page.goto(url);
      assert.equal(await page.evaluate(() => (globalThis as unknown as SpaWindow).spa.ready), true, `tab ${i + 1} took the token from the others`);
      pages.push(page);
    }
    // Counted from here: the first tab's page load asked once (no cookie yet, a 400), the others asked their peers.
    const setUp = refreshes;
    return { context, pages, userId, refreshes: () => refreshes - setUp, log };
  }

  /** The session's refresh tokens: rotations = rows − 1. */
  async function sessionState(spa: RunningSpa, userId: string) {
    const sessions = await spa.services.sessions.listActive(userId, new Date(spa.services.now()));
    assert.equal(sessions.length, 1, 'one live session, not revoked');
    const rows = await spa.services.database.db
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.sessionId, sessions[0]!.id))
      .orderBy(asc(refreshTokens.generation));
    return { rotations: rows.length - 1 };
  }

  const callAll = (pages: readonly Page[], path: string) =>
    Promise.all(pages.map((page) => page.evaluate((p) => (globalThis as unknown as SpaWindow).spa.call(p), path)));

  for (const grace of [0, 30]) {
    describe(`grace window ${grace === 0 ? 'off' : `${grace} s`}`, () => {
      let spa: RunningSpa;
      before(async () => {
        spa = await startSpa(grace);
      });
      after(() => spa?.close());

      test(`${TABS} tabs whose access tokens expire at the same instant all call the API: one rotation, no reuse, every tab keeps working`, async () => {
        const { context, pages, userId, refreshes } = await signedInTabs(spa, TABS);
        try {
          assert.equal((await sessionState(spa, userId)).rotations, 0, 'the tabs opened after sign-in spent nothing');
          spa.advance(PAST_EXPIRY_MS);
          const answers = await callAll(pages, '/api/notes');
          assert.deepEqual(
            answers.map((a) => a.status),
            Array(TABS).fill(200),
          );
          assert.equal((await sessionState(spa, userId)).rotations, 1, 'exactly one rotation');
          assert.equal(refreshes(), 1, 'one refresh request from all the tabs');
          const again = await callAll(pages, '/api/notes');
          assert.deepEqual(
            again.map((a) => a.status),
            Array(TABS).fill(200),
          );
          assert.equal(refreshes(), 1);
          for (const page of pages) {
            const events = await page.evaluate(() => (globalThis as unknown as SpaWindow).spa.events);
            // The first tab's page load found no cookie (signed out) before its sign-in; nothing since.
            assert.deepEqual(events.slice(events.indexOf('signed-in')), ['signed-in', 'refreshed'], 'signed in, refreshed once, never signed out');
          }
        } finally {
          await context.close();
        }
      });

      if (grace !== 0) return;

      test('malicious: an injected script finds no token in cookies, localStorage, sessionStorage or IndexedDB', async () => {
        const { context, pages } = await signedInTabs(spa, 2);
        try {
          // A string, as an injected script would be (and so no bundler helpers leak into the page).
          const found = (await pages[0]!.evaluate(`(async () => {
            const stored = (s) => Array.from({ length: s.length }, (_, i) => s.key(i) + '=' + s.getItem(s.key(i)));
            return {
              cookie: document.cookie,
              local: stored(localStorage),
              session: stored(sessionStorage),
              databases: (await indexedDB.databases()).map((d) => d.name),
            };
          })()`)) as { cookie: string; local: string[]; session: string[]; databases: string[] };
          assert.equal(found.cookie, '', 'the refresh cookie is HttpOnly');
          assert.deepEqual(found.session, []);
          assert.deepEqual(found.databases, []);
          assert.deepEqual(found.local, []);
        } finally {
          await context.close();
        }
      });

      test('malicious: an API answering 401 for its own reasons gets one refresh, then its 401 is returned', async () => {
        const { context, pages, refreshes } = await signedInTabs(spa, 1);
        try {
          const before = spa.ownRefusals();
          const answer = await pages[0]!.evaluate(() => (globalThis as unknown as SpaWindow).spa.call('/api/own-401'));
          assert.equal(answer.status, 401);
          assert.match(answer.body, /not for you/);
          assert.equal(spa.ownRefusals() - before, 2, 'the API was asked twice: before and after the one refresh');
          assert.equal(refreshes(), 1);
          assert.equal((await pages[0]!.evaluate(() => (globalThis as unknown as SpaWindow).spa.call('/api/notes'))).status, 200, 'still signed in');
        } finally {
          await context.close();
        }
      });

      test('a tab hung while holding the lock: the others steal it after the timeout and recover, with one rotation', async () => {
        const { context, pages, userId, log } = await signedInTabs(spa, 4);
        try {
          const [hung, ...others] = pages as [Page, ...Page[]];
          // The hung tab takes the refresh lock and never lets go (a tab frozen mid-refresh).
          await hung.evaluate(HOLD_THE_LOCK);
          spa.advance(PAST_EXPIRY_MS);
          const answers = await callAll(others, '/api/notes');
          assert.deepEqual(
            answers.map((a) => a.status),
            Array(others.length).fill(200),
          );
          assert.equal((await sessionState(spa, userId)).rotations, 1, log.join(' '));
        } finally {
          await context.close();
        }
      });

      test('a tab that crashes while holding the lock: the others recover, with one rotation', async () => {
        const { context, pages, userId } = await signedInTabs(spa, 3);
        try {
          const [doomed, ...others] = pages as [Page, ...Page[]];
          await doomed.evaluate(HOLD_THE_LOCK);
          spa.advance(PAST_EXPIRY_MS);
          const calls = callAll(others, '/api/notes');
          const cdp = await context.newCDPSession(doomed);
          const crashed = doomed.waitForEvent('crash');
          // Page.crash never answers: the renderer is gone.
          void cdp.send('Page.crash').catch(() => undefined);
          await crashed;
          assert.deepEqual(
            (await calls).map((a) => a.status),
            Array(others.length).fill(200),
          );
          assert.equal((await sessionState(spa, userId)).rotations, 1);
        } finally {
          await context.close();
        }
      });

      test('sign-out in one tab clears the cookie and signs every tab out', async () => {
        const { context, pages } = await signedInTabs(spa, 2);
        try {
          await pages[0]!.click('#sign-out');
          await pages[1]!.waitForSelector('#sign-in', { state: 'visible' });
          const cookies = await context.cookies();
          assert.equal(
            cookies.find((c) => c.name === 'gatehouse_refresh'),
            undefined,
          );
          assert.equal((await pages[1]!.evaluate(() => (globalThis as unknown as SpaWindow).spa.call('/api/notes'))).status, 401);
        } finally {
          await context.close();
        }
      });
    });
  }
});
