import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { InvalidTokenError } from '../../src/errors/errors.js';
import { generateSigningJwk } from '../../src/keys/development-keys.js';
import { createKeySet, type KeySet, type VerificationKey } from '../../src/keys/key-set.js';
import type { PrivateSigningJwk } from '../../src/keys/signing-key-file.js';
import { createAccessTokenVerifier, type AccessTokenVerifierOptions, type VerificationKeySource } from '../../src/tokens/access-token-verifier.js';

// Every test runs on an injected clock: NOW is "the present", in seconds since the epoch.
const NOW = 1_750_000_000;
const ISSUER = 'https://issuer.test';
const AUDIENCE = 'https://api.test';
const MAX_LIFETIME = 900;
const USER_ID = '3f0c8a52-8a3e-4d59-9a57-0d6f1c2b7e41';

let edJwk: PrivateSigningJwk;
let esJwk: PrivateSigningJwk;
/** Our keys: an Ed25519 signer and an ES256 key, both trusted for verification. */
let keys: KeySet;
let ed: VerificationKey & { sign: CryptoKey };
let es: VerificationKey & { sign: CryptoKey };
/** A key that is not ours. */
let attacker: { kid: string; key: CryptoKey; publicJwk: JWK };

before(async () => {
  edJwk = await generateSigningJwk();
  const esPair = await generateKeyPair('ES256', { extractable: true });
  esJwk = { ...(await exportJWK(esPair.privateKey)), kid: 'es-key', alg: 'ES256', use: 'sig' };
  keys = await createKeySet([edJwk, esJwk]);
  const edSigner = keys.signer;
  ed = { ...keys.find(edJwk.kid)!, sign: edSigner.key };
  es = { ...keys.find('es-key')!, sign: esPair.privateKey };
  const attackerPair = await generateKeyPair('EdDSA', { extractable: true });
  attacker = { kid: 'attacker', key: attackerPair.privateKey, publicJwk: await exportJWK(attackerPair.publicKey) };
});

/** Claims a Gatehouse would mint at NOW. A value of `undefined` removes the claim. */
function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: ISSUER,
    sub: USER_ID,
    aud: AUDIENCE,
    iat: NOW,
    exp: NOW + 300,
    jti: randomUUID(),
    client_id: 'gatehouse-cli',
    scope: 'profile',
    sid: randomUUID(),
    ...overrides,
  };
}

async function sign(
  key: CryptoKey | Uint8Array,
  payload: Record<string, unknown>,
  header: Record<string, unknown>,
  crit?: Record<string, boolean>,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key, crit === undefined ? undefined : { crit });
}

/** A token signed with our real Ed25519 key: only the rule under test can stop it. */
function forge(payloadOverrides: Record<string, unknown> = {}, headerOverrides: Record<string, unknown> = {}): Promise<string> {
  return sign(ed.sign, claims(payloadOverrides), { alg: 'EdDSA', kid: ed.kid, typ: 'at+jwt', ...headerOverrides });
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

interface Harness {
  readonly verifier: ReturnType<typeof createAccessTokenVerifier>;
  /** Moves the injected clock, in seconds (fractions allowed). */
  setNow(seconds: number): void;
  setKeys(source: VerificationKeySource): void;
}

function harness(options: Partial<AccessTokenVerifierOptions> = {}): Harness {
  let nowMs = NOW * 1000;
  let source: VerificationKeySource = keys;
  const verifier = createAccessTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    keys: () => source,
    maxLifetimeSeconds: MAX_LIFETIME,
    now: () => nowMs,
    ...options,
  });
  return {
    verifier,
    setNow: (seconds) => {
      nowMs = Math.round(seconds * 1000);
    },
    setKeys: (next) => {
      source = next;
    },
  };
}

const NO_KEYS: VerificationKeySource = { algorithms: [], find: () => undefined };

/** Rejected with the generic InvalidTokenError, and (for the log only) for the expected reason. */
async function assertRejected(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InvalidTokenError, `expected InvalidTokenError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_INVALID_TOKEN');
    assert.equal(error.message, 'invalid token');
    assert.match(error.logReason ?? '', reason);
    return true;
  });
}

describe('createAccessTokenVerifier: options', () => {
  test('a clock tolerance above 30 s or below 0 is refused', () => {
    for (const clockToleranceSeconds of [31, 60, 3600, Number.POSITIVE_INFINITY, -1]) {
      assert.throws(() => harness({ clockToleranceSeconds }), TypeError, String(clockToleranceSeconds));
    }
  });

  test('a clock tolerance of 0 and of 30 is accepted', () => {
    assert.doesNotThrow(() => harness({ clockToleranceSeconds: 0 }));
    assert.doesNotThrow(() => harness({ clockToleranceSeconds: 30 }));
  });

  test('a non-positive maximum lifetime is refused', () => {
    for (const maxLifetimeSeconds of [0, -1, Number.NaN]) {
      assert.throws(() => harness({ maxLifetimeSeconds }), TypeError, String(maxLifetimeSeconds));
    }
  });

  test('an empty audience list is refused', () => {
    assert.throws(() => harness({ audience: [] }), TypeError);
  });
});

describe('verify: signature, algorithm and key selection', () => {
  test('alg "none" (unsigned) is refused even with our kid', async () => {
    const token = `${b64({ alg: 'none', typ: 'at+jwt', kid: ed.kid })}.${b64(claims())}.`;
    await assertRejected(harness().verifier.verify(token), /algorithm not allowed: none/);
  });

  test('HS256 keyed with our public key (algorithm confusion) is refused by the pinned list', async () => {
    const publicX = Buffer.from(edJwk.x as string, 'base64url');
    for (const secret of [publicX, new TextEncoder().encode(edJwk.x as string)]) {
      const token = await sign(secret, claims(), { alg: 'HS256', kid: ed.kid, typ: 'at+jwt' });
      await assertRejected(harness().verifier.verify(token), /algorithm not allowed: HS256/);
    }
  });

  test('an algorithm outside the pinned list is refused even when the key exists and matches it', async () => {
    // The ES256 key is found and its alg matches the header: only the pinned list stops the token.
    const pinnedToEdDSA: VerificationKeySource = { algorithms: ['EdDSA'], find: (kid) => keys.find(kid) };
    const h = harness();
    h.setKeys(pinnedToEdDSA);
    const token = await sign(es.sign, claims(), { alg: 'ES256', kid: es.kid, typ: 'at+jwt' });
    await assertRejected(h.verifier.verify(token), /algorithm not allowed: ES256/);
    h.setKeys(keys);
    assert.equal((await h.verifier.verify(token)).sub, USER_ID, 'control: accepted once ES256 is pinned');
  });

  test('the kid of an EdDSA key with an ES256 header (alg/key mismatch) is refused', async () => {
    // ES256 is allowed (we hold an ES256 key) and the signature is a genuine ES256 one.
    const token = await sign(es.sign, claims(), { alg: 'ES256', kid: ed.kid, typ: 'at+jwt' });
    await assertRejected(harness().verifier.verify(token), /alg does not match the key/);
  });

  test('a token without kid is refused, even when signed by the active key', async () => {
    await assertRejected(harness().verifier.verify(await forge({}, { kid: undefined })), /kid missing/);
    await assertRejected(harness().verifier.verify(await forge({}, { kid: '' })), /kid missing/);
  });

  test('an unknown kid is refused, even when signed by the active key', async () => {
    for (const kid of ['attacker', '../../etc/passwd', "' OR 1=1 --", '__proto__', 'constructor']) {
      await assertRejected(harness().verifier.verify(await forge({}, { kid })), /unknown kid/);
    }
  });

  test('a foreign key under our kid, announced in jwk / jku / x5u headers, fails the signature check', async () => {
    for (const extra of [{ jwk: attacker.publicJwk }, { jku: 'https://attacker.example/jwks.json' }, { x5u: 'https://attacker.example/cert.pem' }]) {
      const token = await sign(attacker.key, claims(), { alg: 'EdDSA', kid: ed.kid, typ: 'at+jwt', ...extra });
      await assertRejected(harness().verifier.verify(token), /signature verification failed/);
    }
  });

  test('a stripped signature is refused', async () => {
    const [header, payload] = (await forge()).split('.');
    await assertRejected(harness().verifier.verify(`${header}.${payload}.`), /signature verification failed/);
  });

  test('a payload changed after signing is refused', async () => {
    const [header, , signature] = (await forge()).split('.');
    const tampered = `${header}.${b64(claims({ scope: 'profile admin' }))}.${signature}`;
    await assertRejected(harness().verifier.verify(tampered), /signature verification failed/);
  });

  test('an unknown critical header is refused', async () => {
    const token = await sign(
      ed.sign,
      claims(),
      { alg: 'EdDSA', kid: ed.kid, typ: 'at+jwt', crit: ['exp-in-future'], 'exp-in-future': true },
      { 'exp-in-future': true },
    );
    await assertRejected(harness().verifier.verify(token), /unsupported header/);
  });

  test('control: a token signed by either of our keys verifies and its claims are returned frozen', async () => {
    const h = harness();
    const sid = randomUUID();
    const fromEd = await h.verifier.verify(await forge({ sid, jti: 'jti-1' }));
    assert.deepEqual(
      { ...fromEd },
      { iss: ISSUER, sub: USER_ID, aud: AUDIENCE, iat: NOW, exp: NOW + 300, jti: 'jti-1', client_id: 'gatehouse-cli', scope: 'profile', sid },
    );
    assert.ok(Object.isFrozen(fromEd));
    const fromEs = await h.verifier.verify(await sign(es.sign, claims(), { alg: 'ES256', kid: es.kid, typ: 'at+jwt' }));
    assert.equal(fromEs.sub, USER_ID);
  });
});

describe('verify: token shape', () => {
  test('a token over 8192 characters is refused, even when genuinely signed', async () => {
    const token = await forge({ padding: 'x'.repeat(9000) });
    await assertRejected(harness().verifier.verify(token), /token too long/);
  });

  test('anything but a compact JWS is refused', async () => {
    const valid = await forge();
    for (const token of ['', 'abc', `${valid}.extra.parts`, ` ${valid}`, `${valid} `, valid.replace('.', '..'), 'a.b', 'é.é.é']) {
      await assertRejected(harness().verifier.verify(token), /not a compact JWS/);
    }
  });

  test('a header that is not JSON is refused', async () => {
    await assertRejected(harness().verifier.verify('bm90LWpzb24.e30.c2ln'), /unreadable protected header/);
  });
});

describe('verify: typ header (RFC 9068 §4)', () => {
  test('typ "JWT", another typ, or no typ is refused', async () => {
    for (const typ of ['JWT', 'jwt', 'application/jwt', 'at+jws', undefined]) {
      await assertRejected(harness().verifier.verify(await forge({}, { typ })), /claim check failed: typ/);
    }
  });

  test('"at+jwt" and its full media type "application/at+jwt" are accepted', async () => {
    for (const typ of ['at+jwt', 'application/at+jwt']) {
      assert.equal((await harness().verifier.verify(await forge({}, { typ }))).sub, USER_ID, typ);
    }
  });
});

describe('verify: clock tolerance', () => {
  test('exp: refused from exp + tolerance on (default tolerance 5 s)', async () => {
    const h = harness();
    await assertRejected(h.verifier.verify(await forge({ iat: NOW - 100, exp: NOW - 5 })), /expired/);
    await assertRejected(h.verifier.verify(await forge({ iat: NOW - 400, exp: NOW - 300 })), /expired/);
    assert.ok(await h.verifier.verify(await forge({ iat: NOW - 100, exp: NOW - 4 })), 'within the tolerance');
  });

  test('exp: the tolerance is the configured one, up to 30 s', async () => {
    const h30 = harness({ clockToleranceSeconds: 30 });
    assert.ok(await h30.verifier.verify(await forge({ iat: NOW - 100, exp: NOW - 29 })));
    await assertRejected(h30.verifier.verify(await forge({ iat: NOW - 100, exp: NOW - 30 })), /expired/);
    const h0 = harness({ clockToleranceSeconds: 0 });
    await assertRejected(h0.verifier.verify(await forge({ iat: NOW - 100, exp: NOW })), /expired/);
    assert.ok(await h0.verifier.verify(await forge({ iat: NOW - 100, exp: NOW + 1 })));
  });

  test('nbf in the future beyond the tolerance is refused', async () => {
    const h = harness();
    await assertRejected(h.verifier.verify(await forge({ nbf: NOW + 6 })), /claim check failed: nbf/);
    await assertRejected(h.verifier.verify(await forge({ nbf: NOW + 3600 })), /claim check failed: nbf/);
    assert.ok(await h.verifier.verify(await forge({ nbf: NOW + 5 })), 'within the tolerance');
  });

  test('iat in the future beyond the tolerance is refused', async () => {
    const h = harness();
    await assertRejected(h.verifier.verify(await forge({ iat: NOW + 6, exp: NOW + 300 })), /claim check failed: iat/);
    await assertRejected(h.verifier.verify(await forge({ iat: NOW + 3600, exp: NOW + 3900 })), /claim check failed: iat/);
    assert.ok(await h.verifier.verify(await forge({ iat: NOW + 5, exp: NOW + 300 })), 'within the tolerance');
  });
});

describe('verify: registered claims', () => {
  test('a missing exp, iat, sub, jti or client_id is refused, each on its own', async () => {
    for (const claim of ['exp', 'iat', 'sub', 'jti', 'client_id']) {
      await assertRejected(harness().verifier.verify(await forge({ [claim]: undefined })), new RegExp(`claim check failed: ${claim}`));
    }
  });

  test('another issuer is refused', async () => {
    for (const iss of ['https://evil.test', `${ISSUER}/`, 'https://ISSUER.test', undefined]) {
      await assertRejected(harness().verifier.verify(await forge({ iss })), /claim check failed: iss/);
    }
  });

  test('an audience we do not accept is refused', async () => {
    for (const aud of ['https://other.test', ['https://other.test'], [], undefined]) {
      await assertRejected(harness().verifier.verify(await forge({ aud })), /claim check failed: aud/);
    }
  });

  test('with an audience list, a token naming any one accepted audience passes', async () => {
    const h = harness({ audience: ['https://a.test', 'https://b.test'] });
    assert.ok(await h.verifier.verify(await forge({ aud: 'https://a.test' })));
    assert.ok(await h.verifier.verify(await forge({ aud: 'https://b.test' })));
    assert.ok(await h.verifier.verify(await forge({ aud: ['https://other.test', 'https://b.test'] })));
    await assertRejected(h.verifier.verify(await forge({ aud: AUDIENCE })), /claim check failed: aud/);
  });
});

describe('verify: Gatehouse claims', () => {
  test('a lifetime (exp - iat) longer than the maximum is refused, even when not yet expired', async () => {
    const h = harness();
    await assertRejected(h.verifier.verify(await forge({ iat: NOW, exp: NOW + 365 * 86_400 })), /lifetime/);
    await assertRejected(h.verifier.verify(await forge({ iat: NOW, exp: NOW + MAX_LIFETIME + 1 })), /lifetime/);
    assert.ok(await h.verifier.verify(await forge({ iat: NOW, exp: NOW + MAX_LIFETIME })), 'exactly the maximum');
  });

  test('a sub that is not a UUID is refused', async () => {
    for (const sub of ['admin', '1', '', `${USER_ID}x`, `${USER_ID}\n`, 42]) {
      await assertRejected(harness().verifier.verify(await forge({ sub })), /sub|claim check failed/);
    }
  });

  test('a jti that is empty, over 128 characters or not a string is refused', async () => {
    for (const jti of ['', 'j'.repeat(129), 7]) {
      await assertRejected(harness().verifier.verify(await forge({ jti })), /jti|claim check failed: jti/);
    }
    assert.ok(await harness().verifier.verify(await forge({ jti: 'j'.repeat(128) })));
  });

  test('a client_id that is empty or not a string is refused', async () => {
    for (const client_id of ['', 1, ['gatehouse-cli']]) {
      await assertRejected(harness().verifier.verify(await forge({ client_id })), /client_id invalid/);
    }
  });

  test('a scope or sid that is not a string is refused', async () => {
    await assertRejected(harness().verifier.verify(await forge({ scope: ['profile'] })), /scope is not a string/);
    await assertRejected(harness().verifier.verify(await forge({ sid: 1 })), /sid is not a string/);
  });

  test('a missing scope reads as no scope; a missing sid is left out', async () => {
    const verified = await harness().verifier.verify(await forge({ scope: undefined, sid: undefined }));
    assert.equal(verified.scope, '');
    assert.equal('sid' in verified, false);
  });
});

describe('verification cache', () => {
  test('a verified token is served from the cache until clearCache()', async () => {
    const h = harness();
    const token = await forge();
    const first = await h.verifier.verify(token);
    // With no keys at all, only the cache can still vouch for the token.
    h.setKeys(NO_KEYS);
    assert.equal(await h.verifier.verify(token), first);
    h.verifier.clearCache();
    await assertRejected(h.verifier.verify(token), /algorithm not allowed/);
  });

  test('a cached entry is not returned from exp + tolerance on', async () => {
    const h = harness({ clockToleranceSeconds: 5 });
    const token = await forge({ iat: NOW, exp: NOW + 60 });
    await h.verifier.verify(token);
    h.setKeys(NO_KEYS);
    h.setNow(NOW + 65 - 0.001);
    assert.equal((await h.verifier.verify(token)).exp, NOW + 60, 'still cached just before exp + tolerance');
    h.setNow(NOW + 65);
    await assertRejected(h.verifier.verify(token), /algorithm not allowed/);
    h.setKeys(keys);
    await assertRejected(h.verifier.verify(token), /expired/);
  });

  test('a rejection is never cached', async () => {
    const h = harness();
    const token = await forge();
    h.setKeys(NO_KEYS);
    await assertRejected(h.verifier.verify(token), /algorithm not allowed/);
    h.setKeys(keys);
    assert.equal((await h.verifier.verify(token)).sub, USER_ID);
  });

  test('cacheSize 0 turns the cache off', async () => {
    const h = harness({ cacheSize: 0 });
    const token = await forge();
    await h.verifier.verify(token);
    h.setKeys(NO_KEYS);
    await assertRejected(h.verifier.verify(token), /algorithm not allowed/);
  });

  test('the cache is bounded: the oldest entry is evicted first', async () => {
    const h = harness({ cacheSize: 1 });
    const older = await forge();
    const newer = await forge();
    await h.verifier.verify(older);
    await h.verifier.verify(newer);
    h.setKeys(NO_KEYS);
    assert.ok(await h.verifier.verify(newer));
    await assertRejected(h.verifier.verify(older), /algorithm not allowed/);
  });
});
