import { loadConfig } from '../../src/config/config.js';
import { generateSigningJwk } from '../../src/keys/development-keys.js';
import { createServices } from '../../src/services.js';
import { exchangeRefreshToken, startSession, type RefreshFamilyDeps } from '../../src/sessions/refresh-families.js';

/**
 * Rotations/s through the session store alone (the compare-and-set statement plus token
 * generation and hashing), at the same concurrency and on the same database as the raw loop.
 */
const url = process.env.BENCH_DATABASE_URL;
if (url === undefined) throw new Error('BENCH_DATABASE_URL is required');
const concurrency = Number(process.env.CONCURRENCY ?? '8');
const seconds = Number(process.env.SECONDS ?? '10');
const config = loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_DATABASE_URL: url, GATEHOUSE_LOG_LEVEL: 'silent' });
const services = await createServices(config, { signingKeys: [await generateSigningJwk()] });
try {
  const user = await services.users.create({
    id: crypto.randomUUID(),
    username: `rot${Date.now()}`,
    usernameKey: `rot${Date.now()}`,
    email: null,
    passwordHash: 'x',
  });
  const deps: RefreshFamilyDeps = { sessions: services.sessions, policy: services.sessionPolicy, now: Date.now, onSecurityEvent: () => {} };
  let done = 0;
  const deadline = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      let { refreshToken } = await startSession(deps, {
        userId: user.id,
        clientId: 'gatehouse-cli',
        tenantId: null,
        scope: 'profile',
        device: 'bench',
        ip: null,
        authentication: { methods: ['pwd'], time: Math.floor(Date.now() / 1000) },
      });
      while (performance.now() < deadline) {
        ({ refreshToken } = await exchangeRefreshToken(deps, refreshToken, 'gatehouse-cli'));
        done += 1;
      }
    }),
  );
  process.send?.({ type: 'result', perSecond: done / seconds });
} finally {
  await services.close();
}
