import { hash, verify, type Algorithm } from '@node-rs/argon2';

/**
 * The login ceiling: argon2id verifications per second with the parameters Gatehouse uses,
 * at the same concurrency as the login load, in its own process like the server.
 */
const concurrency = Number(process.env.CONCURRENCY ?? '8');
const seconds = Number(process.env.SECONDS ?? '10');
const params = { algorithm: 2 as Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const password = 'correct horse battery staple';
const stored = await hash(password, params);
const cpuBefore = process.cpuUsage();
const deadline = performance.now() + seconds * 1000;
let done = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      await verify(stored, password);
      done += 1;
    }
  }),
);
const cpu = process.cpuUsage(cpuBefore);
process.send?.({ type: 'result', perSecond: done / seconds, cpuMsPerVerify: (cpu.user + cpu.system) / 1000 / done });
