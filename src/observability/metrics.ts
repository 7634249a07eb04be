import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RevocationState } from '../revocation/revocations.js';
import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';

export type LoginOutcome = 'success' | 'invalid_grant' | 'throttled' | 'error';
export type RefreshOutcome = LoginOutcome | 'reuse_detected';
export type RevocationKind = 'session' | 'user' | 'token';
export type StoreName = 'database' | 'ephemeral';

/** The label of every request that matched no route: raw paths never become label values. */
export const UNMATCHED_ROUTE = 'unmatched';

/** What the gauges read when scraped. */
export interface MetricSources {
  readonly revocationState: () => RevocationState;
  /** `createdAtMs` undefined: the key's age is unknown and the key is left out of the age gauge. */
  readonly signingKeys: () => readonly { readonly kid: string; readonly createdAtMs: number | undefined }[];
  /** Epoch milliseconds. */
  readonly now: () => number;
}

/**
 * Gatehouse's Prometheus metrics. Each instance owns its registry (never prom-client's global one),
 * so two in one process do not collide. Every label value comes from a fixed set or from the code
 * (route patterns, configured key ids): nothing a client sends becomes a label, so cardinality is
 * bounded and no token, username or query string can reach the exposition.
 */
export interface GatehouseMetrics {
  /** `text/plain; version=0.0.4` with charset. */
  readonly contentType: string;
  /** The Prometheus text exposition: this instance's metrics, then the process's. */
  exposition(): Promise<string>;
  /** `route` is the route pattern (`/me/sessions/:id`); undefined for a request no route matched. */
  httpRequest(method: string, route: string | undefined, statusCode: number, seconds: number): void;
  login(outcome: LoginOutcome): void;
  refresh(outcome: RefreshOutcome): void;
  throttled(route: string | undefined): void;
  revoked(kind: RevocationKind): void;
  storeQuery(store: StoreName, seconds: number): void;
}

export interface MetricsOptions {
  /** Resolution of the event-loop delay monitor in ms (prom-client's `eventLoopMonitoringPrecision`). */
  readonly eventLoopMonitoringPrecision?: number;
}

// /me answers in about a millisecond, a login spends ~50 ms in argon2: buckets cover both, and few
// of them keep the per-request cost and the series count down.
const HTTP_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

let processRegistry: Registry | undefined;

/**
 * Process metrics (CPU, memory, GC, handles, event-loop delay) describe the process, not an
 * instance, and prom-client offers no way to stop its collectors: one registry per process,
 * created with the first GatehouseMetrics, appended to every instance's exposition.
 */
function processMetrics(precisionMs: number): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: precisionMs });
  }
  return processRegistry;
}

/**
 * A signing key's creation time in epoch ms, from the JWK's `iat` member when the key file has
 * one. RFC 7517 defines no creation time for a JWK, so a key without `iat` has no known age.
 */
export function jwkCreatedAtMs(jwk: object): number | undefined {
  const iat = (jwk as { iat?: unknown }).iat;
  return typeof iat === 'number' && Number.isFinite(iat) && iat > 0 ? iat * 1000 : undefined;
}

type Observer = { observe(value: number): void };

export function createGatehouseMetrics(sources: MetricSources, options: MetricsOptions = {}): GatehouseMetrics {
  const registry = new Registry();
  const registers = [registry];
  const processWide = processMetrics(options.eventLoopMonitoringPrecision ?? 10);

  const requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method, route pattern and status class.',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: HTTP_BUCKETS,
    registers,
  });
  const logins = new Counter({
    name: 'gatehouse_logins_total',
    help: 'Password logins (token endpoint password grant and /auth/login) by outcome.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const refreshes = new Counter({
    name: 'gatehouse_refreshes_total',
    help: 'Refresh-token exchanges by outcome. reuse_detected counts the security event; that request is also counted as invalid_grant, the answer it got.',
    labelNames: ['outcome'] as const,
    registers,
  });
  const throttled = new Counter({
    name: 'gatehouse_throttled_requests_total',
    help: 'Requests answered 429, by route pattern.',
    labelNames: ['route'] as const,
    registers,
  });
  const revocations = new Counter({
    name: 'gatehouse_revocations_total',
    help: 'Revocations made by this instance (durable, then applied and published), by kind: session, user (token version) or token (jti).',
    labelNames: ['kind'] as const,
    registers,
  });
  new Gauge({
    name: 'gatehouse_revocation_state_current',
    help: '1 while this instance can confirm its revocation state is current; 0 while it fails closed.',
    registers,
    collect() {
      this.set(sources.revocationState().current ? 1 : 0);
    },
  });
  new Gauge({
    name: 'gatehouse_revocation_entries',
    help: 'Entries in the in-process revocation list.',
    registers,
    collect() {
      this.set(sources.revocationState().entries);
    },
  });
  new Gauge({
    name: 'gatehouse_signing_key_age_seconds',
    help: 'Age of each signing key with a known creation time (the JWK "iat" member), by kid.',
    labelNames: ['kid'] as const,
    registers,
    collect() {
      this.reset();
      const now = sources.now();
      for (const key of sources.signingKeys()) {
        if (key.createdAtMs !== undefined) this.set({ kid: key.kid }, Math.max(0, (now - key.createdAtMs) / 1000));
      }
    },
  });
  const storeDuration = new Histogram({
    name: 'gatehouse_store_query_duration_seconds',
    help: 'Time of one store operation (a query or transaction; a Redis command), by store.',
    labelNames: ['store'] as const,
    buckets: STORE_BUCKETS,
    registers,
  });
  const storeObservers: Record<StoreName, Observer> = { database: storeDuration.labels('database'), ephemeral: storeDuration.labels('ephemeral') };

  // route → method → status class index → bound series: two map lookups per request, no allocation.
  const series = new Map<string, Map<string, Observer[]>>();
  const observerFor = (method: string, route: string, statusIndex: number): Observer => {
    let byMethod = series.get(route);
    if (byMethod === undefined) series.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) byMethod.set(method, (byStatus = []));
    return (byStatus[statusIndex] ??= requestDuration.labels(method, route, STATUS_CLASSES[statusIndex] ?? '5xx'));
  };

  return {
    contentType: registry.contentType,
    async exposition() {
      return (await registry.metrics()) + (await processWide.metrics());
    },
    httpRequest(method, route, statusCode, seconds) {
      const statusIndex = Math.min(Math.max(Math.floor(statusCode / 100) - 1, 0), 4);
      observerFor(METHODS.has(method) ? method : 'other', route ?? UNMATCHED_ROUTE, statusIndex).observe(seconds);
    },
    login: (outcome) => logins.inc({ outcome }),
    refresh: (outcome) => refreshes.inc({ outcome }),
    throttled: (route) => throttled.inc({ route: route ?? UNMATCHED_ROUTE }),
    revoked: (kind) => revocations.inc({ kind }),
    storeQuery: (store, seconds) => storeObservers[store].observe(seconds),
  };
}

/**
 * The ephemeral store with each command timed (for a Redis store; timing the in-process one would
 * measure nothing but Map lookups). Subscriptions and closing are passed through untimed.
 */
export function timedEphemeralStore(store: EphemeralStore, observe: (seconds: number) => void): EphemeralStore {
  const timed = async <T>(command: () => Promise<T>): Promise<T> => {
    const start = performance.now();
    try {
      return await command();
    } finally {
      observe((performance.now() - start) / 1000);
    }
  };
  return {
    kind: store.kind,
    set: (key, value, ttlMs) => timed(() => store.set(key, value, ttlMs)),
    setIfAbsent: (key, value, ttlMs) => timed(() => store.setIfAbsent(key, value, ttlMs)),
    get: (key) => timed(() => store.get(key)),
    take: (key) => timed(() => store.take(key)),
    delete: (key) => timed(() => store.delete(key)),
    increment: (key, ttlMs) => timed(() => store.increment(key, ttlMs)),
    ping: () => timed(() => store.ping()),
    publish: (channel, message) => timed(() => store.publish(channel, message)),
    subscribe: (channel, listener) => store.subscribe(channel, listener),
    close: () => store.close(),
  };
}
