import { Session } from 'node:inspector/promises';
import { spawn } from 'node:child_process';
import { loadConfig } from '../src/config/config.js';
import { buildApp } from '../src/http/app.js';
import { generateSigningJwk } from '../src/keys/development-keys.js';
import { createServices } from '../src/services.js';
import { LIMIT_NAMES } from '../src/throttle/limit-spec.js';

/**
 * `npx tsx bench/profile-me.ts 2>&1 >/dev/null`: where `GET /me` spends its time, with a bearer
 * token and with the session cookie. Gatehouse in this process (embedded stores, every limit off,
 * its log discarded with stdout), loaded by the autocannon CLI in another process (50
 * connections, D seconds, default 6) after a warm-up; the V8 CPU profile of each run is summed per
 * function: self time, and inclusive time of Gatehouse's own functions. Output on stderr.
 */
const limits = Object.fromEntries(LIMIT_NAMES.map((n) => [`GATEHOUSE_LIMIT_${n}`, 'off']));
const config = loadConfig({ GATEHOUSE_ENV: 'development', GATEHOUSE_DATABASE_URL: 'memory:', GATEHOUSE_LOG_LEVEL: 'info', ...limits });
const services = await createServices(config, { signingKeys: [await generateSigningJwk()] });
const app = await buildApp(services);
const base = await app.listen({ host: '127.0.0.1', port: 0 });
const PASSWORD = 'correct horse battery staple';
const json = { 'content-type': 'application/json' };
await fetch(`${base}/auth/register`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'bench', password: PASSWORD }) });
const tok = (await (
  await fetch(`${base}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ username: 'bench', password: PASSWORD }) })
).json()) as { access_token: string };
const signIn = await fetch(`${base}/auth/session`, {
  method: 'POST',
  headers: { ...json, 'sec-fetch-site': 'same-origin' },
  body: JSON.stringify({ username: 'bench', password: PASSWORD }),
});
const cookie = signIn.headers.getSetCookie()[0]!.split(';')[0]!;
const session = new Session();
session.connect();
await session.post('Profiler.enable');
const run = (header: string) =>
  new Promise<string>((resolve) => {
    const c = spawn('npx', ['autocannon', '-c', '50', '-d', process.env.D ?? '6', '-H', header, `${base}/me`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stderr.on('data', (d) => (out += d));
    c.on('exit', () => resolve(out));
  });
for (const [name, header] of [
  ['bearer', `authorization=Bearer ${tok.access_token}`],
  ['cookie', `cookie=${cookie}`],
] as const) {
  await run(header); // warm
  await session.post('Profiler.start');
  const out = await run(header);
  const { profile } = await session.post('Profiler.stop');
  const self = new Map<string, number>();
  const total = profile.samples!.length;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const counts = new Map<number, number>();
  for (const s of profile.samples!) counts.set(s, (counts.get(s) ?? 0) + 1);
  for (const [id, c] of counts) {
    const n = byId.get(id)!;
    const key = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*node_modules\//, 'nm/').replace(/^file:\/\/\/work\/main\//, '')}:${n.callFrame.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + c);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const ch of n.children ?? []) parent.set(ch, n.id);
  const keyOf = (id: number) => {
    const n = byId.get(id)!;
    return `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^.*node_modules\//, 'nm/').replace(/^file:\/\/\/work\/main\//, '')}:${n.callFrame.lineNumber}`;
  };
  const incl = new Map<string, number>();
  for (const [id, c] of counts) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = keyOf(cur);
      if (!/ (src|packages)\//.test(k) || seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + c);
    }
  }
  const line = out.split('\n').find((l) => l.includes('Req/Sec')) ?? '';
  process.stderr.write(`\n== ${name}: ${line}\n`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 22)) process.stderr.write(`${((100 * v) / total).toFixed(1).padStart(5)}% ${k}\n`);
  process.stderr.write(`-- inclusive (our code)\n`);
  for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 30)) process.stderr.write(`${((100 * v) / total).toFixed(1).padStart(5)}% ${k}\n`);
}
await app.close();
await services.close();
process.exit(0);
