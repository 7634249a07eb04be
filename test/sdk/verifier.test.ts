import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { createVerifier, InvalidTokenError, KeysUnavailableError, RevocationsStaleError, type Verifier } from '../../packages/verify/src/index.js';
import { alternateSpellings } from '../support/base64url-spellings.js';
import { AUDIENCE, b64, claims, ISSUER, sign, testKey, USER_ID, type TestKey } from './support.js';

let ed: TestKey;
let rs: TestKey;
let verifier: Verifier;

before(async () => {
  ed = await testKey('EdDSA', 'ed-1');
  rs = await testKey('RS256', 'rs-1');
  verifier = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ed.publicJwk, rs.publicJwk] } });
});

async function assertInvalid(promise: Promise<unknown>, reason: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InvalidTokenError, `expected InvalidTokenError, got ${String(error)}`);
    assert.equal(error.message, 'invalid token', 'one message for every cause');
    assert.match(error.logReason, reason);
    return true;
  });
}

describe('createVerifier: malicious tokens', () => {
  test('alg "none" is refused, whatever the kid', async () => {
    await assertInvalid(verifier.verify(`${b64({ alg: 'none', typ: 'at+jwt', kid: ed.kid })}.${b64(claims())}.`), /algorithm not allowed: none/);
  });

  test('HS256 keyed with the published public key (algorithm confusion) is refused', async () => {
    for (const secret of [
      Buffer.from(ed.publicJwk.x as string, 'base64url'),
      new TextEncoder().encode(JSON.stringify(ed.publicJwk)),
      new TextEncoder().encode(rs.publicJwk.n as string),
    ]) {
      const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256', kid: ed.kid, typ: 'at+jwt' }).sign(secret);
      await assertInvalid(verifier.verify(token), /algorithm not allowed: HS256/);
    }
  });

  test('an algorithm outside the pinned list is refused although the key is published', async () => {
    const pinned = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ed.publicJwk, rs.publicJwk] }, algorithms: ['EdDSA'] });
    await assertInvalid(pinned.verify(await sign(rs)), /algorithm not allowed: RS256/);
    assert.ok(await verifier.verify(await sign(rs)), 'control: accepted where RS256 is allowed');
  });

  test('another audience or issuer is refused', async () => {
    await assertInvalid(verifier.verify(await sign(ed, claims({ aud: 'https://other.test' }))), /claim check failed: aud/);
    await assertInvalid(verifier.verify(await sign(ed, claims({ aud: [] }))), /claim check failed: aud/);
    await assertInvalid(verifier.verify(await sign(ed, claims({ iss: 'https://evil.test' }))), /claim check failed: iss/);
    await assertInvalid(verifier.verify(await sign(ed, claims({ iss: `${ISSUER}/` }))), /claim check failed: iss/);
  });

  test('an expired token is refused; a not-yet-valid one too', async () => {
    const now = Math.floor(Date.now() / 1000);
    await assertInvalid(verifier.verify(await sign(ed, claims({ iat: now - 400, exp: now - 100 }))), /expired/);
    await assertInvalid(verifier.verify(await sign(ed, claims({ nbf: now + 600 }))), /claim check failed: nbf/);
  });

  test('typ other than at+jwt, a crit header, a forged signature, an unknown kid are refused', async () => {
    await assertInvalid(verifier.verify(await sign(ed, claims(), { typ: 'JWT' })), /typ/);
    const other = await testKey('EdDSA', ed.kid);
    await assertInvalid(verifier.verify(await sign(other)), /signature verification failed/);
    await assertInvalid(verifier.verify(await sign(ed, claims(), { kid: 'nope' })), /unknown kid/);
    const [h, p] = (await sign(ed)).split('.');
    await assertInvalid(verifier.verify(`${h}.${p}.`), /signature verification failed/);
  });

  test('every other base64url spelling of a real Ed25519 token is refused, in every segment', async () => {
    const fresh = createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [ed.publicJwk] } });
    const token = await sign(ed);
    const spellings = alternateSpellings(token);
    assert.ok(spellings.length >= 15, `${spellings.length} spellings`);
    for (const spelt of spellings) await assertInvalid(fresh.verify(spelt), /non-canonical base64url/);
    assert.ok(await fresh.verify(token));
    // Cached: the other spellings are still refused, not served from the cache of the canonical one.
    for (const spelt of spellings) await assertInvalid(fresh.verify(spelt), /non-canonical base64url/);
    // A header and a payload of every length (mod 4), with unused bits of their own.
    for (const pad of ['', 'x', 'xx', 'xxx']) {
      const t = await sign(ed, claims({ pad }), { pad });
      assert.ok(await fresh.verify(t));
      for (const spelt of alternateSpellings(t)) await assertInvalid(fresh.verify(spelt), /non-canonical base64url/);
    }
    // A segment of 4k+1 characters (here 85) is no base64url at all.
    const [h, p, s] = token.split('.') as [string, string, string];
    await assertInvalid(fresh.verify(`${h}.${p}.${s.slice(0, -1)}`), /non-canonical base64url/);
  });

  test('malformed Gatehouse claims are refused (tid, roles, tver, akid, sub, lifetime)', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const [override, reason] of [
      [{ tid: 'acme' }, /tid/],
      [{ roles: 'admin' }, /roles/],
      [{ roles: [''] }, /roles/],
      [{ tver: -1 }, /tver/],
      // An akid that could never match a key's revocation entry must not pass as one that can.
      [{ akid: 42 }, /akid/],
      [{ akid: '' }, /akid/],
      [{ akid: 'key id with spaces' }, /akid/],
      [{ sub: 'admin' }, /sub/],
      [{ iat: now, exp: now + 7200 }, /lifetime/],
    ] as const) {
      await assertInvalid(verifier.verify(await sign(ed, claims(override))), reason);
    }
  });

  test('options that would weaken verification are refused at construction', () => {
    assert.throws(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [] }, clockTolerance: 60 }), TypeError);
    assert.throws(() => createVerifier({ issuer: ISSUER, audience: [], jwks: { keys: [] } }), TypeError);
    assert.throws(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [] }, algorithms: ['HS256' as 'EdDSA'] }), TypeError);
    assert.throws(() => createVerifier({ issuer: ISSUER, audience: AUDIENCE } as never), TypeError);
  });

  test('malicious: the audience is required and must name something: undefined, empty or blank entries are refused', () => {
    // An empty aud would match a token whose aud is empty: the audience check would check nothing.
    for (const audience of [undefined, '', [''], [AUDIENCE, ''], [42], 'x'.slice(1)]) {
      assert.throws(() => createVerifier({ issuer: ISSUER, audience, jwks: { keys: [] } } as never), TypeError, JSON.stringify(audience));
    }
  });
});

describe('createVerifier: the principal', () => {
  test('is typed from the claims: subject, scopes, roles, tenant, session, client, token id, expiry', async () => {
    const now = Math.floor(Date.now() / 1000);
    const tid = '9b2f5a0e-3c1d-4e8f-a7b6-5d4c3b2a1f0e';
    const c = claims({ scope: 'profile inventory:read', roles: ['user', 'clerk'], tid, jti: 'jti-1', exp: now + 300 });
    const principal = await verifier.verify(await sign(ed, c));
    assert.equal(principal.subject, USER_ID);
    assert.deepEqual([...principal.scopes], ['profile', 'inventory:read']);
    assert.deepEqual(principal.roles, ['user', 'clerk']);
    assert.equal(principal.tenantId, tid);
    assert.equal(principal.sessionId, c.sid);
    assert.equal(principal.clientId, 'gatehouse-cli');
    assert.equal(principal.tokenId, 'jti-1');
    assert.equal(principal.expiresAt, now + 300);
    assert.equal(principal.claims.sub, USER_ID);
    assert.ok(Object.isFrozen(principal));
    assert.throws(() => (principal.scopes as Set<string>).add('admin'), TypeError, 'a cached principal cannot be widened');
  });

  test('without roles, tid or sid in the token: empty roles, no tenant, no session', async () => {
    const principal = await verifier.verify(await sign(ed, claims({ sid: undefined, scope: undefined })));
    assert.deepEqual(principal.roles, []);
    assert.equal(principal.tenantId, undefined);
    assert.equal(principal.sessionId, undefined);
    assert.equal(principal.scopes.size, 0);
  });

  test('a repeated token is served from the cache: the same principal object', async () => {
    const token = await sign(ed);
    const first = await verifier.verify(token);
    assert.equal(await verifier.verify(token), first);
  });
});

describe('the server and the SDK run one module', () => {
  test("the server's verifier refuses with its own InvalidTokenError, keeping the package's log reason", async () => {
    const { createAccessTokenVerifier } = await import('../../src/tokens/access-token-verifier.js');
    const { InvalidTokenError: ServerInvalidTokenError } = await import('../../src/errors/errors.js');
    const { staticKeySource } = await import('../../packages/verify/src/index.js');
    const server = createAccessTokenVerifier({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: () => staticKeySource({ keys: [ed.publicJwk] }, ['EdDSA']),
      maxLifetimeSeconds: 900,
    });
    assert.equal((await server.verify(await sign(ed))).sub, USER_ID);
    await assert.rejects(
      server.verify(await sign(ed, claims({ aud: 'https://other.test' }))),
      (e: unknown) => e instanceof ServerInvalidTokenError && /claim check failed: aud/.test(e.logReason ?? ''),
    );
  });
});

describe('the errors the verifier throws', () => {
  test('a refused token carries no stack, an outage keeps its own, and the process-wide limit is restored', () => {
    const frames = (error: Error) => (error.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).length;
    assert.equal(new InvalidTokenError('bad signature').stack, 'InvalidTokenError: invalid token');
    assert.ok(frames(new KeysUnavailableError('JWKS fetch failed')) > 0);
    assert.ok(frames(new RevocationsStaleError('catch-up failing')) > 0);
    assert.ok(frames(new Error('plain')) > 0);
  });
});
