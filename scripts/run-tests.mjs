#!/usr/bin/env node
// `npm test`: runs every test/**/*.test.ts and examples/*/test/**/*.test.ts twice, once per store profile.
//   1. embedded: in-process PGlite and memory stores (GATEHOUSE_TEST_STORES=embedded; real-store URLs removed).
//   2. real:     PostgreSQL and Redis (GATEHOUSE_TEST_STORES=real), when both
//                GATEHOUSE_TEST_DATABASE_URL and GATEHOUSE_TEST_REDIS_URL are set. Only the files
//                that can tell the passes apart run again: those reaching one of those settings
//                through their modules (scripts/store-settings-reach.mjs); the others (unit tests,
//                the CLI tests on their own PGlite directory) ran the same code in pass 1. Both
//                lists are printed.
// GATEHOUSE_TEST_REQUIRE_REAL=1 (CI) turns a missing real-store setup into a failure instead of a skip.
//
// Usage: npm test [-- <path>… ] [-- --test-name-pattern=…]
//   A path argument keeps only test files at or under it; an argument starting with "-" is passed
//   to `node --test` as is.
// After each pass its slowest files are printed (the wall time of each file's process).
// The last line of output is always `tests: <P> passed, <F> failed[, <S> skipped]`, where failed
// counts failed and cancelled tests of both passes.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { passSettingChain } from './store-settings-reach.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DB_VAR = 'GATEHOUSE_TEST_DATABASE_URL';
const REDIS_VAR = 'GATEHOUSE_TEST_REDIS_URL';
const REACH_TIMEOUT_MS = 3_000;

/** test/**\/*.test.ts, relative to the repository root with "/" separators, sorted. */
function collectTestFiles() {
  /** @type {string[]} */
  const found = [];
  const walk = (dir) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile() && entry.name.endsWith('.test.ts')) found.push(rel);
    }
  };
  walk('test');
  // Each example has its own tests beside it (examples/<name>/test).
  for (const entry of readdirSync(path.join(root, 'examples'), { withFileTypes: true })) {
    if (entry.isDirectory() && existsSync(path.join(root, 'examples', entry.name, 'test'))) walk(`examples/${entry.name}/test`);
  }
  return found.sort();
}

function applyFilters(files, filters) {
  if (filters.length === 0) return files;
  const prefixes = filters.map((f) => path.relative(root, path.resolve(process.cwd(), f)).split(path.sep).join('/').replace(/\/+$/, ''));
  return files.filter((file) => prefixes.some((p) => p === '' || file === p || file.startsWith(`${p}/`)));
}

/** The `<ms>\t<file>` lines scripts/test-pass-reporter.mjs wrote: Map(file → ms). */
function readFileDurations(reportFile) {
  const measured = new Map();
  if (!existsSync(reportFile)) return measured;
  for (const line of readFileSync(reportFile, 'utf8').split('\n')) {
    const [ms, name] = line.split('\t');
    if (name !== undefined && !line.startsWith('#')) measured.set(name, Number(ms));
  }
  return measured;
}

function printSlowest(name, measured, count = 12) {
  const rows = [...measured].sort((a, b) => b[1] - a[1]).slice(0, count);
  if (rows.length === 0) return;
  console.log(`\n${name} pass, slowest files (wall time of each file's process):`);
  for (const [file, ms] of rows) console.log(`${(ms / 1000).toFixed(1).padStart(7)} s  ${file}`);
}

/** Files whose modules reach a pass setting run in both passes (`twice`); the others only in the embedded one. */
function splitByPassSettings(files) {
  const twice = [];
  const once = [];
  for (const file of files) (passSettingChain(root, path.join(root, file)) === undefined ? once : twice).push(file);
  return { twice, once };
}

function printOnceOnly(once) {
  if (once.length === 0) return;
  console.log(
    `\n${once.length} file(s) ran in the embedded pass only: none of their modules reads GATEHOUSE_TEST_STORES, _DATABASE_URL or _REDIS_URL, so the real pass would run them unchanged:`,
  );
  for (const file of once) console.log(`  ${file}`);
}

const isSet = (name) => (process.env[name] ?? '') !== '';

/** host:port only: a URL may carry a password, and this line ends up in CI logs. */
function where(url) {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '(default port)'}`;
  } catch {
    return '(unparseable URL)';
  }
}

const reason = (err) => (err instanceof Error ? `${err.code ?? err.name}: ${err.message.split('\n')[0]}` : String(err));

async function checkPostgres(url) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: REACH_TIMEOUT_MS, query_timeout: REACH_TIMEOUT_MS });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => {});
  }
}

async function checkRedis(url) {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: REACH_TIMEOUT_MS,
    commandTimeout: REACH_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // connect() only says "Connection is closed."; the 'error' event carries the cause (ECONNREFUSED, WRONGPASS…).
  let lastError;
  client.on('error', (err) => (lastError = err));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw lastError ?? err;
  } finally {
    client.disconnect();
  }
}

/** Runs `node --test` once; returns the TAP summary counts, the per-file wall times and the exit status. */
function runPass(name, files, nodeArgs, env, reportFile) {
  console.log(`\n=== ${name} pass (GATEHOUSE_TEST_STORES=${name}): ${files.length} test file(s) ===\n`);
  const args = [
    // Tests import the workspace packages' TypeScript sources (package.json "gatehouse-source" condition).
    '--import',
    'tsx',
    '--conditions=gatehouse-source',
    '--test',
    '--test-concurrency=2',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    `--test-reporter=${path.join(root, 'scripts/test-pass-reporter.mjs')}`,
    `--test-reporter-destination=${reportFile}`,
    ...nodeArgs,
    ...files,
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
    child.on('error', (err) => resolve({ name, exit: `spawn failed: ${reason(err)}`, counts: undefined, durations: new Map() }));
    child.on('close', (code, signal) => {
      const durations = readFileDurations(reportFile);
      printSlowest(name, durations);
      resolve({ name, exit: signal ?? code, counts: readSummary(reportFile), durations });
    });
  });
}

/** The run's closing diagnostics, as scripts/test-pass-reporter.mjs wrote them: `# tests N`, `# pass N`, `# fail N`, `# cancelled N`, `# skipped N`, `# todo N`. */
function readSummary(reportFile) {
  let text;
  try {
    text = readFileSync(reportFile, 'utf8');
  } catch {
    return undefined;
  }
  const counts = {};
  for (const key of ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo']) {
    const matches = [...text.matchAll(new RegExp(`^# ${key} (\\d+)$`, 'gm'))];
    const last = matches.at(-1);
    if (last === undefined) return undefined;
    counts[key] = Number(last[1]);
  }
  return counts;
}

function describePass(result) {
  const { name, exit, counts } = result;
  if (counts === undefined) return { ok: false, line: `${name}: no test summary (node exited with ${exit})` };
  const executed = counts.pass + counts.fail + counts.cancelled;
  const ok = exit === 0 && counts.fail === 0 && counts.cancelled === 0 && executed > 0;
  const extras = [
    counts.cancelled > 0 ? `${counts.cancelled} cancelled` : '',
    counts.skipped > 0 ? `${counts.skipped} skipped` : '',
    counts.todo > 0 ? `${counts.todo} todo` : '',
    executed === 0 ? 'no tests ran' : '',
    exit !== 0 ? `node exited with ${exit}` : '',
  ].filter((s) => s !== '');
  return { ok, line: `${name}: ${counts.pass} passed, ${counts.fail} failed${extras.length > 0 ? `, ${extras.join(', ')}` : ''}${ok ? '' : ' — FAILED'}` };
}

async function main() {
  const cli = process.argv.slice(2);
  const nodeArgs = cli.filter((a) => a.startsWith('-'));
  const filters = cli.filter((a) => !a.startsWith('-'));

  const all = collectTestFiles();
  const files = applyFilters(all, filters);
  if (files.length === 0) {
    console.error(filters.length > 0 ? `no test files under: ${filters.join(', ')}` : 'no test files found (test/**/*.test.ts)');
    return 1;
  }

  const requireReal = ['1', 'true'].includes(process.env.GATEHOUSE_TEST_REQUIRE_REAL ?? '');
  const runReal = isSet(DB_VAR) && isSet(REDIS_VAR);
  if (!runReal && requireReal) {
    console.error(`real-store run required but ${DB_VAR}/${REDIS_VAR} are not set`);
    return 1;
  }
  if (runReal) {
    // Checked before anything runs: a CI service that is down should fail in seconds, not after pass 1.
    const problems = [];
    await checkPostgres(process.env[DB_VAR]).catch((err) =>
      problems.push(`PostgreSQL at ${where(process.env[DB_VAR])} (${DB_VAR}) is not reachable: ${reason(err)}`),
    );
    await checkRedis(process.env[REDIS_VAR]).catch((err) =>
      problems.push(`Redis at ${where(process.env[REDIS_VAR])} (${REDIS_VAR}) is not reachable: ${reason(err)}`),
    );
    if (problems.length > 0) {
      for (const p of problems) console.error(`real-store pass: ${p}`);
      return 1;
    }
  }

  // The CLI tests run bin/gatehouse.mjs, which runs the compiled dist/: build it first (fast when up to date).
  if (spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' }).status !== 0) return 1;

  const tmp = mkdtempSync(path.join(tmpdir(), 'gatehouse-tests-'));
  const results = [];
  try {
    const embeddedEnv = { ...process.env, GATEHOUSE_TEST_STORES: 'embedded' };
    delete embeddedEnv[DB_VAR];
    delete embeddedEnv[REDIS_VAR];
    // One migrated database dumped once: each embedded test database starts from it (no initdb).
    const template = path.join(tmp, 'pglite-template.tar');
    const made = spawnSync(process.execPath, ['--import', 'tsx', '--conditions=gatehouse-source', 'scripts/pglite-template.ts', template], {
      cwd: root,
      stdio: 'inherit',
    });
    if (made.status === 0) embeddedEnv.GATEHOUSE_TEST_PGLITE_TEMPLATE = template;
    else console.log('(no PGlite template: each embedded test database runs initdb and the migrations)');
    results.push(await runPass('embedded', files, nodeArgs, embeddedEnv, path.join(tmp, 'embedded.report')));
    if (runReal) {
      const { twice, once } = splitByPassSettings(files);
      printOnceOnly(once);
      if (twice.length > 0) {
        results.push(await runPass('real', twice, nodeArgs, { ...process.env, GATEHOUSE_TEST_STORES: 'real' }, path.join(tmp, 'real.report')));
      } else console.log('\n=== real pass: none of these files reads a store setting; nothing to run again ===');
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  console.log('');
  let ok = true;
  const total = { pass: 0, fail: 0, skipped: 0 };
  for (const result of results) {
    const { ok: passOk, line } = describePass(result);
    ok &&= passOk;
    console.log(line);
    total.pass += result.counts?.pass ?? 0;
    total.fail += (result.counts?.fail ?? 0) + (result.counts?.cancelled ?? 0);
    total.skipped += result.counts?.skipped ?? 0;
  }
  if (!runReal) {
    const partial = isSet(DB_VAR) || isSet(REDIS_VAR) ? ' (only one of them is set)' : '';
    console.log(`real: skipped — set ${DB_VAR} and ${REDIS_VAR} to run it${partial}; GATEHOUSE_TEST_REQUIRE_REAL=1 makes it mandatory`);
  }
  console.log(`tests: ${total.pass} passed, ${total.fail} failed${total.skipped > 0 ? `, ${total.skipped} skipped` : ''}`);
  return ok ? 0 : 1;
}

process.exitCode = await main();
