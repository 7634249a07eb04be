import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { StoreUnavailableError } from '../../src/errors/errors.js';
import { createGatehouseMetrics, jwkCreatedAtMs, timedEphemeralStore, type MetricSources } from '../../src/observability/metrics.js';
import { observeQueries, runQuery } from '../../src/stores/db/database.js';
import { createMemoryStore } from '../../src/stores/ephemeral/memory-store.js';
import { labelValues, parseExposition, sampleValue } from '../support/prometheus-text.js';

const NOW = Date.UTC(2030, 0, 1);

function sources(overrides: Partial<MetricSources> = {}): MetricSources {
  return {
    revocationState: () => ({ current: true, entries: 0 }),
    signingKeys: () => [],
    now: () => NOW,
    ...overrides,
  };
}

describe('GatehouseMetrics: labels come from fixed sets only', () => {
  test('a request no route matched is route="unmatched", whatever its path', async () => {
    const metrics = createGatehouseMetrics(sources());
    metrics.httpRequest('GET', undefined, 404, 0.001);
    metrics.httpRequest('GET', undefined, 404, 0.001);
    const text = await metrics.exposition();
    assert.deepEqual(labelValues(text, 'http_request_duration_seconds_count', 'route'), new Set(['unmatched']));
    assert.equal(sampleValue(text, 'http_request_duration_seconds_count', { route: 'unmatched', method: 'GET', status_class: '4xx' }), 2);
  });

  test('an unknown method is "other", statuses are classes: a client cannot mint label values', async () => {
    const metrics = createGatehouseMetrics(sources());
    metrics.httpRequest('PROPFIND', '/me', 200, 0.001);
    metrics.httpRequest('X-EVIL-METHOD', '/me', 200, 0.001);
    metrics.httpRequest('GET', '/me', 418, 0.001);
    metrics.httpRequest('GET', '/me', 999, 0.001);
    metrics.httpRequest('GET', '/me', 0, 0.001);
    const text = await metrics.exposition();
    assert.deepEqual(labelValues(text, 'http_request_duration_seconds_count', 'method'), new Set(['other', 'GET']));
    assert.deepEqual(labelValues(text, 'http_request_duration_seconds_count', 'status_class'), new Set(['2xx', '4xx', '5xx', '1xx']));
    assert.equal(sampleValue(text, 'http_request_duration_seconds_count', { method: 'other', route: '/me' }), 2);
  });

  test('the latency lands in the right bucket, per series', async () => {
    const metrics = createGatehouseMetrics(sources());
    metrics.httpRequest('GET', '/me', 200, 0.003);
    metrics.httpRequest('GET', '/me', 200, 0.2);
    const text = await metrics.exposition();
    assert.equal(sampleValue(text, 'http_request_duration_seconds_bucket', { route: '/me', le: '0.0025' }), 0);
    assert.equal(sampleValue(text, 'http_request_duration_seconds_bucket', { route: '/me', le: '0.005' }), 1);
    assert.equal(sampleValue(text, 'http_request_duration_seconds_bucket', { route: '/me', le: '0.25' }), 2);
    assert.ok(Math.abs((sampleValue(text, 'http_request_duration_seconds_sum', { route: '/me' }) ?? 0) - 0.203) < 1e-9);
  });
});

describe('GatehouseMetrics: one registry per instance', () => {
  test('two instances in one process neither collide nor share counts, and the global registry stays empty', async () => {
    const a = createGatehouseMetrics(sources());
    const b = createGatehouseMetrics(sources());
    a.login('success');
    a.login('success');
    b.login('invalid_grant');
    assert.equal(sampleValue(await a.exposition(), 'gatehouse_logins_total', { outcome: 'success' }), 2);
    assert.equal(sampleValue(await b.exposition(), 'gatehouse_logins_total', { outcome: 'success' }), undefined);
    assert.equal(sampleValue(await b.exposition(), 'gatehouse_logins_total', { outcome: 'invalid_grant' }), 1);
    assert.equal(globalRegistry.getMetricsAsArray().length, 0);
  });

  test('process metrics, event-loop delay included, appear in every instance exposition', async () => {
    for (const metrics of [createGatehouseMetrics(sources()), createGatehouseMetrics(sources())]) {
      const samples = parseExposition(await metrics.exposition());
      for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'process_cpu_seconds_total', 'nodejs_heap_size_used_bytes']) {
        assert.ok(
          samples.some((s) => s.name === name),
          `${name} missing`,
        );
      }
      // Each metric family once: the instance's and the process's registries do not overlap.
      const families = (await metrics.exposition()).split('\n').filter((l) => l.startsWith('# TYPE '));
      assert.equal(new Set(families).size, families.length);
    }
  });
});

describe('GatehouseMetrics: counters and gauges', () => {
  test('logins, refreshes, throttles and revocations by their label', async () => {
    const metrics = createGatehouseMetrics(sources());
    metrics.refresh('success');
    metrics.refresh('reuse_detected');
    metrics.throttled('/auth/token');
    metrics.throttled(undefined);
    metrics.revoked('session');
    metrics.revoked('session');
    metrics.revoked('user');
    metrics.revoked('token');
    const text = await metrics.exposition();
    assert.equal(sampleValue(text, 'gatehouse_refreshes_total', { outcome: 'reuse_detected' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_throttled_requests_total', { route: '/auth/token' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_throttled_requests_total', { route: 'unmatched' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_revocations_total', { kind: 'session' }), 2);
    assert.equal(sampleValue(text, 'gatehouse_revocations_total', { kind: 'user' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_revocations_total', { kind: 'token' }), 1);
  });

  test('the revocation gauges read the state when scraped: 1 while current, 0 while failing closed', async () => {
    let state = { current: true, entries: 3 };
    const metrics = createGatehouseMetrics(sources({ revocationState: () => state }));
    assert.equal(sampleValue(await metrics.exposition(), 'gatehouse_revocation_state_current'), 1);
    assert.equal(sampleValue(await metrics.exposition(), 'gatehouse_revocation_entries'), 3);
    state = { current: false, entries: 5 };
    assert.equal(sampleValue(await metrics.exposition(), 'gatehouse_revocation_state_current'), 0);
    assert.equal(sampleValue(await metrics.exposition(), 'gatehouse_revocation_entries'), 5);
  });

  test('signing-key age from the JWK "iat"; a key without one is left out rather than reported as new', async () => {
    const createdAtMs = NOW - 86_400_000;
    const metrics = createGatehouseMetrics(
      sources({
        signingKeys: () => [
          { kid: 'old', createdAtMs },
          { kid: 'unknown', createdAtMs: undefined },
        ],
      }),
    );
    const text = await metrics.exposition();
    assert.equal(sampleValue(text, 'gatehouse_signing_key_age_seconds', { kid: 'old' }), 86_400);
    assert.equal(sampleValue(text, 'gatehouse_signing_key_age_seconds', { kid: 'unknown' }), undefined);
    assert.equal(jwkCreatedAtMs({ kty: 'OKP', iat: 1_900_000_000 }), 1_900_000_000_000);
    for (const iat of [undefined, '1900000000', -1, Number.NaN]) assert.equal(jwkCreatedAtMs({ kty: 'OKP', iat }), undefined);
  });
});

describe('store latency', () => {
  test('runQuery reports each operation, failed ones too, to an attached observer only', async () => {
    const seen: number[] = [];
    const detach = observeQueries((seconds) => seen.push(seconds));
    await runQuery(async () => 1);
    await assert.rejects(
      runQuery(async () => {
        throw new Error('boom');
      }),
      StoreUnavailableError,
    );
    detach();
    await runQuery(async () => 1);
    assert.equal(seen.length, 2);
    assert.ok(seen.every((s) => s >= 0 && s < 1));
  });

  test('timedEphemeralStore times commands, failures included, and behaves like the store it wraps', async () => {
    const seen: number[] = [];
    const inner = createMemoryStore();
    const store = timedEphemeralStore(inner, (seconds) => seen.push(seconds));
    assert.equal(store.kind, 'memory');
    await store.set('k', 'v', 60_000);
    assert.equal(await store.get('k'), 'v');
    assert.deepEqual((await store.increment('n', 60_000)).value, 1);
    await store.set('s', 'not a number', 60_000);
    await assert.rejects(store.increment('s', 60_000), TypeError);
    assert.equal(seen.length, 5);
    await store.close();
  });

  test('the store histogram is labelled by store', async () => {
    const metrics = createGatehouseMetrics(sources());
    metrics.storeQuery('database', 0.002);
    metrics.storeQuery('ephemeral', 0.0004);
    const text = await metrics.exposition();
    assert.equal(sampleValue(text, 'gatehouse_store_query_duration_seconds_count', { store: 'database' }), 1);
    assert.equal(sampleValue(text, 'gatehouse_store_query_duration_seconds_bucket', { store: 'ephemeral', le: '0.0005' }), 1);
  });
});
