import autocannon from 'autocannon';
import { fork } from 'node:child_process';
const child = fork('/work/main/bench/servers/gatehouse.ts', { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
const address: string = await new Promise((r) => child.on('message', (m: any) => m.type === 'ready' && r(m.address)));
const P = 'correct horse battery staple';
await fetch(`${address}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: P }) });
const t = await (await fetch(`${address}/auth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=password&username=bench&password=${P}` })).json() as any;
for (const url of ['/healthz', '/me']) {
  const r = await autocannon({ url: address + url, connections: 50, duration: 3, headers: { authorization: `Bearer ${t.access_token}` } });
  console.log(url, r.requests.average, r.non2xx);
}
child.kill();
