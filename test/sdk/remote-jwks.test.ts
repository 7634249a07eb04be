import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  createVerifier,
  KeysUnavailableError,
  remoteKeySource,
  VerificationError,
  type RemoteKeySource,
  type Verifier,
  type VerifierOptions,
} from '../../packages/verify/src/index.js';
import { AUDIENCE, eventually, ISSUER, manualClock, sign, startJwksServer, testKey, type JwksServer, type TestKey } from './support.js';

let ed: TestKey;
let es: TestKey;
let servers: JwksServer[] = [];

before(async () => {
  ed = await testKey('EdDSA', 'ed-1');
  es = await testKey('ES256', 'es-1');
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function jwksServer(keys: unknown[]): Promise<JwksServer> {
  const server = await startJwksServer(keys);
  servers.push(server);
  return server;
}

function verifierFor(server: JwksServer, jwksCache: VerifierOptions['jwksCache'] = {}, extra: Partial<VerifierOptions> = {}): Verifier {
  return createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri: server.url, jwksCache, ...extra } as VerifierOptions);
}

async function assertRefused(promise: Promise<unknown>, code: VerificationError['code'], reason: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof VerificationError, `expected a VerificationError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.logReason, reason);
    return true;
  });
}

describe('remote JWKS: malicious cases', () => {
  test('a flood of garbage kids makes at most one fetch per cooldown (counted on a real HTTP server)', async () => {
    const server = await jwksServer([ed.publicJwk]);
    const clock = manualClock();
    const verifier = verifierFor(server, { cooldownSeconds: 30, now: clock.now });
    assert.ok(await verifier.verify(await sign(ed)), 'control: a good token');
    assert.equal(server.requests, 1);
    // 500 tokens with distinct unknown kids, signed by our real key, all at once, then one by one.
    const garbage = await Promise.all(Array.from({ length: 500 }, (_, i) => sign(ed, undefined, { kid: `garbage-${i}` })));
    await Promise.all(garbage.map((t) => assertRefused(verifier.verify(t), 'ERR_INVALID_TOKEN', /unknown kid/)));
    assert.equal(server.requests, 1, 'within the cooldown of the first fetch: no fetch at all');
    clock.advance(30_000);
    await Promise.all(garbage.map((t) => assertRefused(verifier.verify(t), 'ERR_INVALID_TOKEN', /unknown kid/)));
    for (const t of garbage.slice(0, 50)) await assertRefused(verifier.verify(t), 'ERR_INVALID_TOKEN', /unknown kid/);
    assert.equal(server.requests, 2, 'one refetch once the cooldown is over, shared by the whole flood');
    clock.advance(29_000);
    for (const t of garbage.slice(0, 50)) await assertRefused(verifier.verify(t), 'ERR_INVALID_TOKEN', /unknown kid/);
    assert.equal(server.requests, 2);
  });

  test('a JWKS holding an oct key: the key is never imported, and HS256 tokens under its kid are refused', async () => {
    const secret = Buffer.from('an hmac secret published by mistake, 32+ bytes!!').toString('base64url');
    const server = await jwksServer([{ kty: 'oct', kid: 'hmac', alg: 'HS256', k: secret }, ed.publicJwk]);
    const verifier = verifierFor(server, {}, { algorithms: ['EdDSA', 'ES256', 'RS256'] });
    const { SignJWT } = await import('jose');
    const { claims } = await import('./support.js');
    const hs = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: 'hmac', typ: 'at+jwt' }).sign(Buffer.from(secret, 'base64url'));
    await assertRefused(verifier.verify(hs), 'ERR_INVALID_TOKEN', /algorithm not allowed: HS256/);
    assert.ok(await verifier.verify(await sign(ed)), 'the other key still works');
    const source = remoteKeySource(server.url, { algorithms: ['EdDSA'] });
    assert.equal(await source.find('hmac'), undefined, 'the oct key is not in the set');
  });

  test('a key whose alg does not match its type (Ed25519 key published as ES256) is not imported', async () => {
    const server = await jwksServer([{ ...ed.publicJwk, alg: 'ES256' }, es.publicJwk]);
    const verifier = verifierFor(server);
    await assertRefused(verifier.verify(await sign(ed)), 'ERR_INVALID_TOKEN', /alg does not match the key|unknown kid/);
    assert.ok(await verifier.verify(await sign(es)), 'the honest ES256 key still works');
  });

  test('a token whose header alg differs from the key (ES256 header, EdDSA key) is refused', async () => {
    const server = await jwksServer([ed.publicJwk, es.publicJwk]);
    await assertRefused(verifierFor(server).verify(await sign(es, undefined, { kid: ed.kid })), 'ERR_INVALID_TOKEN', /alg does not match the key/);
  });

  test('JWKS members with private parts, a wrong use, a short RSA key or no alg are left out', async () => {
    const { exportJWK } = await import('jose');
    const { generateKeyPairSync } = await import('node:crypto');
    const rsaSmall = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const edPrivate = await exportJWK(ed.privateKey);
    const server = await jwksServer([
      { ...edPrivate, kid: 'with-d', alg: 'EdDSA' },
      { ...ed.publicJwk, kid: 'enc', use: 'enc' },
      { ...rsaSmall.publicKey.export({ format: 'jwk' }), kid: 'rsa-1024', alg: 'RS256' },
      { ...ed.publicJwk, kid: 'no-alg', alg: undefined },
      'not an object',
    ]);
    const events: string[][] = [];
    const source = remoteKeySource(server.url, { onEvent: (e) => e.event === 'jwks.fetched' && events.push([...e.skipped]) });
    for (const kid of ['with-d', 'enc', 'rsa-1024', 'no-alg']) assert.equal(await source.find(kid), undefined, kid);
    assert.equal(events[0]?.length, 5);
    assert.match(events[0]!.join('\n'), /private member "d"/);
    assert.match(events[0]!.join('\n'), /below 2048 bits/);
  });

  test('a duplicated kid drops every key carrying it', async () => {
    const server = await jwksServer([ed.publicJwk, { ...es.publicJwk, kid: ed.kid }]);
    await assertRefused(verifierFor(server).verify(await sign(ed)), 'ERR_INVALID_TOKEN', /unknown kid/);
  });
});

describe('remote JWKS: transport', () => {
  test('a plain-http JWKS URL outside loopback is refused at construction (anyone on the path could swap the keys)', () => {
    for (const uri of [
      'http://auth.example.com/.well-known/jwks.json',
      'http://10.0.0.5/jwks',
      'http://[::ffff:10.0.0.5]/jwks',
      'http://localhost.example.com/jwks',
      'http://128.0.0.1/jwks',
      'ftp://127.0.0.1/jwks',
      'not a url',
    ]) {
      assert.throws(() => remoteKeySource(uri), TypeError, uri);
      assert.throws(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwksUri: uri }), TypeError, uri);
    }
  });

  test('https anywhere and http on loopback (127.0.0.0/8, ::1, localhost) are accepted', () => {
    for (const uri of [
      'https://auth.example.com/.well-known/jwks.json',
      'http://127.0.0.1:8000/jwks',
      'http://127.1.2.3/jwks',
      'http://[::1]:8000/jwks',
      'http://localhost:8000/jwks',
      'http://LOCALHOST/jwks',
    ]) {
      assert.doesNotThrow(() => remoteKeySource(uri), uri);
    }
  });
});

describe('remote JWKS: refetch, stale keys, Cache-Control', () => {
  test('a token whose kid appears only after a refetch is accepted (rotation)', async () => {
    const server = await jwksServer([ed.publicJwk]);
    const clock = manualClock();
    const verifier = verifierFor(server, { cooldownSeconds: 30, now: clock.now });
    await verifier.verify(await sign(ed));
    const next = await testKey('EdDSA', 'ed-2');
    server.keys = [ed.publicJwk, next.publicJwk];
    clock.advance(30_000);
    assert.equal((await verifier.verify(await sign(next))).subject !== undefined, true);
    assert.equal(server.requests, 2);
  });

  test('concurrent misses share one fetch in flight', async () => {
    const server = await jwksServer([ed.publicJwk]);
    server.delayMs = 100;
    const verifier = verifierFor(server);
    const tokens = await Promise.all(Array.from({ length: 50 }, () => sign(ed)));
    await Promise.all(tokens.map((t) => verifier.verify(t)));
    assert.equal(server.requests, 1);
  });

  test('issuer down: stale keys still verify for maxStaleSeconds, then tokens are refused (503, not 401)', async () => {
    const server = await jwksServer([ed.publicJwk]);
    server.cacheControl = 'public, max-age=60';
    const clock = manualClock();
    const verifier = verifierFor(server, { maxStaleSeconds: 600, retryAfterErrorSeconds: 5, now: clock.now }, { cacheSize: 0 });
    await verifier.verify(await sign(ed));
    server.down = true;
    clock.advance(61_000);
    const token = await sign(ed, undefined);
    assert.ok(await verifier.verify(token), 'expired cache, issuer down: the last good key still verifies');
    await (verifier.keys as RemoteKeySource).refresh(); // joins the background refetch (or, once it failed, backs off)
    assert.equal(server.requests, 2, 'one background refetch, which failed');
    for (let i = 0; i < 20; i++) await verifier.verify(token);
    assert.equal(server.requests, 2, 'no hammering while the issuer is down');
    clock.advance(600_000 - 1_000 - 50);
    assert.ok(await verifier.verify(token), 'still within the stale period');
    clock.advance(2_000);
    await assertRefused(verifier.verify(await sign(ed)), 'ERR_KEYS_UNAVAILABLE', /stale beyond maxStaleSeconds/);
    server.down = false;
    clock.advance(5_000);
    assert.ok(await verifier.verify(await sign(ed)), 'recovers once the issuer answers again');
  });

  test('never fetched and the issuer down: KeysUnavailableError', async () => {
    const server = await jwksServer([ed.publicJwk]);
    server.down = true;
    await assert.rejects(verifierFor(server).verify(await sign(ed)), KeysUnavailableError);
  });

  test('the max-age of the response is honoured, bounded by min and max', async () => {
    const server = await jwksServer([ed.publicJwk]);
    const clock = manualClock();
    const ages: number[] = [];
    const source = remoteKeySource(server.url, {
      minMaxAgeSeconds: 10,
      maxMaxAgeSeconds: 600,
      now: clock.now,
      onEvent: (e) => e.event === 'jwks.fetched' && ages.push(e.maxAgeSeconds),
    });
    for (const [cacheControl, expected] of [
      ['public, max-age=120', 120],
      ['max-age=5', 10],
      ['max-age=86400', 600],
      ['no-store', 10],
      [undefined, 300],
      ['max-age=abc', 300],
    ] as const) {
      server.cacheControl = cacheControl;
      await source.refresh();
      assert.equal(ages.at(-1), expected, String(cacheControl));
    }
    server.cacheControl = 'max-age=120';
    await source.refresh();
    const before = server.requests;
    clock.advance(119_000);
    await source.find(ed.kid);
    assert.equal(server.requests, before, 'fresh: no fetch');
    clock.advance(1_000);
    await source.find(ed.kid);
    await eventually(async () => server.requests === before + 1, 2_000);
    assert.equal(server.requests, before + 1, 'expired: refetched once');
  });

  test('a known kid is answered synchronously (no await on the fast path)', async () => {
    const server = await jwksServer([ed.publicJwk]);
    const source = remoteKeySource(server.url);
    await source.refresh();
    const found = source.find(ed.kid);
    assert.ok(found !== undefined && !('then' in found), 'a key, not a promise');
  });
});
