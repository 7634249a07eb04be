import { setTimeout as sleep } from 'node:timers/promises';
import { call, tokensOf, type Answer, type Outcome, type Tokens } from './gatehouse-instances.js';

/**
 * The bounded client of the fault tests: a few workers, each one user with one session at a time,
 * sending `/me`, refreshes and logins in a fixed mix, spread over the instances, with a pause
 * between requests (a load that leaves the 2-core CI machine room for the faults themselves).
 * It behaves as a real client does: it keeps the tokens of its last answered login or refresh,
 * retries with them after a 503 or a lost answer, and signs in again once its session is gone.
 */
export type Route = 'me' | 'refresh' | 'login' | 'register';

export interface Sent {
  /** performance.now() when the answer (or its absence) arrived. */
  readonly at: number;
  readonly instance: string;
  readonly route: Route;
  readonly status: Outcome;
}

export interface Target {
  readonly name: string;
  readonly base: string;
}

export interface LoadOptions {
  /** The instances to spread requests over; read before every request (a test may swap one). */
  readonly targets: () => readonly Target[];
  readonly users: readonly { readonly username: string; readonly password: string }[];
  /** Pause after each request of a worker. */
  readonly pauseMs?: number;
  /** Every n-th request of a worker is a refresh… */
  readonly refreshEvery?: number;
  /** …and every n-th a fresh login (a new session); the rest are /me. */
  readonly loginEvery?: number;
  /** Every n-th request of a worker registers a new user (0: never). */
  readonly registerEvery?: number;
  readonly password: string;
}

export interface Load {
  readonly sent: readonly Sent[];
  /** Users whose registration was answered 201: each must exist afterwards. */
  readonly registered: readonly string[];
  /** Refreshes refused after an unanswered one (its rotation had committed, so the retry was reuse), by user. */
  readonly lostSessions: readonly string[];
  /** Stops the workers; resolves with each worker's last answered tokens. */
  stop(): Promise<readonly WorkerState[]>;
}

export interface WorkerState {
  readonly username: string;
  /** The tokens of the last answered login or refresh (undefined: signed out, e.g. by reuse detection). */
  readonly tokens: Tokens | undefined;
  /** A refresh with these tokens went unanswered (503 or no answer) and none succeeded since. */
  readonly unansweredRefresh: boolean;
}

/** Answers that mean "not now", after which a client retries with the same tokens. */
export const isUnavailable = (status: Outcome): boolean => status === 503 || status === 'connection';

export async function signIn(base: string, username: string, password: string): Promise<Answer> {
  return call(base, 'POST', '/auth/login', { body: { username, password } });
}

export function startLoad(options: LoadOptions): Load {
  const sent: Sent[] = [];
  const registered: string[] = [];
  const lostSessions: string[] = [];
  let running = true;
  let registrations = 0;
  const pauseMs = options.pauseMs ?? 20;
  const refreshEvery = options.refreshEvery ?? 4;
  const loginEvery = options.loginEvery ?? 40;
  const registerEvery = options.registerEvery ?? 0;

  const worker = async (index: number, username: string): Promise<WorkerState> => {
    let tokens: Tokens | undefined;
    let unansweredRefresh = false;
    for (let step = 0; running; step++) {
      const targets = options.targets();
      const target = targets[(index + step) % targets.length];
      if (target === undefined) throw new Error('no instance to send to');
      const record = (route: Route, answer: Answer): Answer => {
        sent.push({ at: performance.now(), instance: target.name, route, status: answer.status });
        return answer;
      };
      if (tokens === undefined || (step > 0 && step % loginEvery === 0)) {
        const answer = record('login', await signIn(target.base, username, options.password));
        if (answer.status === 200) {
          tokens = tokensOf(answer);
          unansweredRefresh = false;
        }
      } else if (registerEvery > 0 && step % registerEvery === registerEvery - 1) {
        const name = `${username}-new-${++registrations}`;
        const answer = record('register', await call(target.base, 'POST', '/auth/register', { body: { username: name, password: options.password } }));
        if (answer.status === 201) registered.push(name);
      } else if (step % refreshEvery === refreshEvery - 1) {
        const answer = record('refresh', await call(target.base, 'POST', '/auth/refresh', { body: { refresh_token: tokens.refresh } }));
        if (answer.status === 200) {
          tokens = tokensOf(answer);
          unansweredRefresh = false;
        } else if (isUnavailable(answer.status)) {
          unansweredRefresh = true;
        } else {
          // The session is gone (an unanswered rotation had committed and the retry was reuse): sign in again.
          lostSessions.push(username);
          tokens = undefined;
        }
      } else {
        record('me', await call(target.base, 'GET', '/me', { token: tokens.access }));
      }
      await sleep(pauseMs);
    }
    return { username, tokens, unansweredRefresh };
  };

  const workers = options.users.map((u, i) => worker(i, u.username));
  return {
    sent,
    registered,
    lostSessions,
    async stop() {
      running = false;
      return Promise.all(workers);
    },
  };
}

/** `route status` → count, e.g. `{ 'me 200': 812, 'me 503': 40 }`, for the printed figures. */
export function tally(sent: readonly Sent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of sent) {
    const key = `${s.route} ${String(s.status)}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}
