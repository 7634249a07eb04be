import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Secret, TOTP, URI } from 'otpauth';
import { NO_AUDIT_CONTEXT } from '../src/audit/audit-event.js';
import { loadConfig } from '../src/config/config.js';
import { confirmTotp, enrolTotp } from '../src/factors/factors.js';
import { secondFactorDepsOf, verifySecondFactor } from '../src/factors/second-factor.js';
import { generateSigningJwk } from '../src/keys/development-keys.js';
import { createServices } from '../src/services.js';
import { perSecond } from './bench-table.js';

const USERS = Number(process.env.BENCH_TOTP_USERS ?? '400');
const STEP_MS = 30_000;

/**
 * Issue 18: accepted TOTP codes per second through the service, on the embedded stores: the
 * per-account throttle, the user's factors read, the secret opened under the KEK, the RFC 6238
 * check (±1 step) and the compare-and-set that moves the last step, one user after another. A code
 * is accepted once, so each of BENCH_TOTP_USERS users presents the next step's code once. Beside
 * it, in the same run, the bare check of the same codes with otpauth (the ceiling).
 */
export async function totpVerificationsPerSecond(): Promise<{ readonly service: number; readonly raw: number; readonly users: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-totp-'));
  let clock = Math.floor(Date.now() / STEP_MS) * STEP_MS + 10_000;
  const config = loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_DATABASE_URL: 'memory:', GATEHOUSE_LOG_LEVEL: 'error', GATEHOUSE_DATA_DIR: dataDir });
  const services = await createServices(config, { signingKeys: [await generateSigningJwk()], now: () => clock });
  try {
    const enrolled: { readonly userId: string; readonly app: TOTP }[] = [];
    for (let i = 0; i < USERS; i += 1) {
      const name = `totp-bench-${i}`;
      const user = await services.users.create({ id: randomUUID(), username: name, usernameKey: name, email: null, passwordHash: 'not-a-password-hash' });
      const enrolment = await enrolTotp(services.factors, user, undefined, NO_AUDIT_CONTEXT);
      const app = URI.parse(enrolment.otpauthUri) as TOTP;
      await confirmTotp(services.factors, user.id, enrolment.id, app.generate({ timestamp: clock }), NO_AUDIT_CONTEXT);
      enrolled.push({ userId: user.id, app });
    }
    clock += STEP_MS;
    const codes = enrolled.map(({ app }) => app.generate({ timestamp: clock }));
    const deps = secondFactorDepsOf(services.factors);
    const service = await perSecond(USERS, async (i) => {
      const outcome = await verifySecondFactor(deps, enrolled[i]!.userId, { otp: codes[i]! });
      if (!outcome.accepted) throw new Error(`bench: code of user ${i} refused (${outcome.reason})`);
    });
    const secrets = enrolled.map(({ app }) => new Secret({ buffer: app.secret.buffer }));
    const raw = await perSecond(USERS, async (i) => {
      const delta = TOTP.validate({ token: codes[i]!, secret: secrets[i]!, timestamp: clock, window: 1 });
      if (delta === null) throw new Error(`bench: raw check of user ${i} failed`);
    });
    return { service, raw, users: USERS };
  } finally {
    await services.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
