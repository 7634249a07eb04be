import autocannon from 'autocannon';
import { registerBenchUser } from './bench-user.js';
import { start } from './child-server.js';
import { printTable } from './bench-table.js';
import { checkoutOf, commitBefore, sharedPackagesDiffer } from './build-before.js';
import { totpVerificationsPerSecond } from './totp-verifications.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? '10');
const LOGIN_CONNECTIONS = 8;
const PASSWORD = 'correct horse battery staple';

async function loginsPerSecond(base: string, duration: number): Promise<number> {
  const result = await autocannon({
    url: `${base}/auth/token`,
    method: 'POST',
    connections: LOGIN_CONNECTIONS,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: 'bench', password: PASSWORD }).toString(),
    duration,
  });
  const bad = result.non2xx + result.errors + result.timeouts;
  if (bad > 0) throw new Error(`${base}/auth/token: ${bad} failed logins of ${result.requests.total}`);
  return result.requests.total / duration;
}

/**
 * Issue 18: password logins of a user without a second factor on this build and on the build
 * before second factors existed (a checkout of the commit before the first of passkeys and TOTP
 * landed), side by side, loaded in turn
 * (ABBA BAAB slices after a warm-up each).
 */
export async function loginsBeforeAndAfterSecondFactors(): Promise<{ before: number; now: number; commit: string } | string> {
  const commit = commitBefore('src/passkeys', 'src/factors');
  if (commit === undefined) return 'no git history with the commit before second factors: the before/after login row is skipped';
  const checkout = checkoutOf(commit);
  const servers = { before: start(`${checkout.dir}/bench/servers/gatehouse.ts`), now: start('./servers/gatehouse.ts') };
  try {
    const bases = { before: String((await servers.before.next('ready')).address), now: String((await servers.now.next('ready')).address) };
    for (const base of Object.values(bases)) await registerBenchUser(base, 'bench', PASSWORD);
    // A warm-up each (JIT, the database's first pages), not counted; then ABBA BAAB slices, so a
    // drift of the shared machine's speed over the run weighs on both builds alike.
    for (const base of Object.values(bases)) await loginsPerSecond(base, 1);
    const done = { before: 0, now: 0 };
    const slice = Math.max(1, SECONDS / 4);
    const order = ['before', 'now', 'now', 'before', 'now', 'before', 'before', 'now'] as const;
    for (const build of order) done[build] += await loginsPerSecond(bases[build], slice);
    return { before: done.before / 4, now: done.now / 4, commit };
  } finally {
    servers.before.child.kill();
    servers.now.child.kill();
    checkout.remove();
  }
}

export async function runSecondFactorBench(): Promise<void> {
  const logins = await loginsBeforeAndAfterSecondFactors();
  const totp = await totpVerificationsPerSecond();
  const rows: string[][] = [['second factors (issue 18)', 'value', 'baseline (same run)', 'ratio', 'target', 'result']];
  const notes: string[] = [];
  if (typeof logins === 'string') notes.push(logins);
  else {
    const ratio = logins.now / logins.before;
    rows.push([
      'password logins, user without a second factor',
      `${logins.now.toFixed(1)} /s`,
      `the build before second factors (${logins.commit.slice(0, 7)}): ${logins.before.toFixed(1)} /s`,
      `${ratio.toFixed(2)}x`,
      '>= 0.95x',
      ratio >= 0.95 ? 'ok' : 'MISSED',
    ]);
    if (sharedPackagesDiffer(logins.commit)) notes.push("packages/ changed since that commit: the build before ran with this build's SDK.");
  }
  rows.push([
    'TOTP codes accepted (throttle, factor read, unseal, check, compare-and-set)',
    `${totp.service.toFixed(0)} /s`,
    `bare RFC 6238 check with otpauth: ${totp.raw.toFixed(0)} /s`,
    `${(totp.service / totp.raw).toFixed(3)}x`,
    'reported',
    '-',
  ]);
  notes.push(`TOTP: ${totp.users} users on the embedded stores, each presenting the next step's code once, one after another.`);
  printTable(rows);
  for (const note of notes) console.log(note);
}

if (import.meta.url === `file://${process.argv[1]}`) await runSecondFactorBench();
