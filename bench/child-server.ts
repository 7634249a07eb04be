import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type Message = { type: string; [key: string]: unknown };

/** A bench server in its own process (tsx, source conditions), and a reader of its IPC messages; `script` is relative to bench/. */
export function start(script: string, env: Record<string, string> = {}): { child: ChildProcess; next: (type: string) => Promise<Message> } {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), {
    execArgv: ['--import', 'tsx', '--conditions=gatehouse-source'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const next = (type: string) =>
    new Promise<Message>((resolve, reject) => {
      const onMessage = (m: Message) => {
        if (m.type === type) {
          child.off('message', onMessage);
          resolve(m);
        }
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`${script} exited with ${String(code)} before ${type}`)));
    });
  return { child, next };
}
