import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'drizzle-orm';
import { importJWK, SignJWT } from 'jose';
import { openPrivateJwk, parseKeyEncryptionKey, sealPrivateJwk } from '../../src/keys/key-encryption.js';
import { generatePrivateJwk } from '../../src/keys/key-generation.js';
import { toPublicJwk } from '../../src/keys/jwk-validation.js';
import { TEST_ISSUER, type TestApp } from '../support/test-app.js';
import { jwks, keys, kidOf, me, newKek, OPERATOR, PRIVATE_MEMBERS, startStoreApp, testClock, type TestClock } from './stored-key-support.js';
import { KEY_PROPAGATION_MS } from '../../src/keys/key-lifecycle.js';

// The lifecycle's leads: max-age or TTL + tolerance, each plus the time a change takes to reach every instance.
const MAX_AGE_MS = 300_000 + KEY_PROPAGATION_MS;
const RETIRE_AFTER_MS = (900 + 30) * 1000 + KEY_PROPAGATION_MS;

interface Row {
  kid: string;
  state: string;
  private_jwk_sealed: string;
  [column: string]: unknown;
}

async function rows(t: TestApp): Promise<Row[]> {
  const result = await t.services.database.db.execute(sql`SELECT * FROM signing_keys ORDER BY created_at`);
  return (result as unknown as { rows: Row[] }).rows;
}

describe('stored signing keys: lifecycle, revocation, encryption at rest', () => {
  let clock: TestClock;
  let t: TestApp;
  let kek: string;

  before(async () => {
    clock = testClock();
    kek = newKek();
    t = await startStoreApp({ clock, kek });
    await t.register('alice');
  });
  after(() => t.close());

  test('first start on an empty store: one key, generated, active, published', async () => {
    const listed = await keys(t).management.list();
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.state, 'active');
    assert.equal(listed[0]!.alg, 'EdDSA');
    assert.deepEqual(
      (await jwks(t)).keys.map((k) => k.kid),
      [listed[0]!.kid],
    );
    assert.equal(t.services.keySet().signer.kid, listed[0]!.kid);
  });

  test('malicious: a revoked key is gone at once: tokens it signed are refused even after a cached verification', async () => {
    const before = await t.login('alice');
    const oldKid = kidOf(before.access_token);
    assert.equal((await me(t, before.access_token)).statusCode, 200); // now in the verification cache
    const standby = await keys(t).management.create({ alg: 'ES256' }, OPERATOR);
    assert.equal(standby.state, 'pending');

    await assert.rejects(keys(t).management.revoke(oldKid, {}, OPERATOR), /only active key: add --replace/);
    assert.equal((await me(t, before.access_token)).statusCode, 200, 'a refused revoke changes nothing');

    const { replacement } = await keys(t).management.revoke(oldKid, { replace: true }, OPERATOR);
    assert.equal(replacement, standby.kid, 'the published standby key takes over');
    const refused = await me(t, before.access_token);
    assert.equal(refused.statusCode, 401, refused.body);
    assert.ok(!(await jwks(t)).keys.some((k) => k.kid === oldKid));
    const after = await t.login('alice');
    assert.equal(kidOf(after.access_token), standby.kid);
    assert.equal((await me(t, after.access_token)).statusCode, 200);
    const revoked = (await keys(t).management.list(true)).find((k) => k.kid === oldKid)!;
    assert.equal(revoked.state, 'retired');
    assert.ok(revoked.revokedAt !== null);
  });

  test('malicious: a pending key never signs, however long it waits, until a rotation schedules it', async () => {
    const signer = t.services.keySet().signer.kid;
    const standby = await keys(t).management.create({}, OPERATOR);
    assert.ok(
      (await jwks(t)).keys.some((k) => k.kid === standby.kid),
      'published at once',
    );
    clock.advance(7 * 86_400_000);
    await keys(t).management.advance();
    assert.equal(kidOf((await t.login('alice')).access_token), signer);
    assert.equal((await keys(t).management.list()).find((k) => k.kid === standby.kid)?.state, 'pending');
    await keys(t).management.retire(standby.kid, OPERATOR);
    assert.ok(!(await jwks(t)).keys.some((k) => k.kid === standby.kid), 'a retired pending key leaves at once');
  });

  test('rotation: published ≥ max-age before it signs; the old key verifies, never signs, and leaves ≥ TTL + tolerance after its last signature', async () => {
    const oldKid = t.services.keySet().signer.kid;
    const oldToken = (await t.login('alice')).access_token;
    const next = await keys(t).management.rotate({ alg: 'RS256' }, OPERATOR);
    assert.equal(next.state, 'pending');
    assert.equal(next.activateAt!.getTime() - next.publishedAt.getTime(), MAX_AGE_MS);
    assert.deepEqual((await jwks(t)).keys.map((k) => k.kid).sort(), [oldKid, next.kid].sort());
    await assert.rejects(keys(t).management.rotate({}, OPERATOR), /already scheduled/);

    clock.advance(MAX_AGE_MS - 1);
    await keys(t).management.advance();
    assert.equal(kidOf((await t.login('alice')).access_token), oldKid, 'one millisecond early: still the old key');

    clock.advance(1);
    const moved = await keys(t).management.advance();
    assert.deepEqual(moved.map((m) => `${m.kid}:${m.to}`).sort(), [`${next.kid}:active`, `${oldKid}:retiring`].sort());
    const newToken = (await t.login('alice')).access_token;
    assert.equal(kidOf(newToken), next.kid);
    assert.equal((await me(t, oldToken)).statusCode, 200, 'the retiring key still verifies');
    assert.equal((await me(t, newToken)).statusCode, 200);
    for (let i = 0; i < 3; i++) assert.equal(kidOf((await t.login('alice')).access_token), next.kid, 'the retiring key never signs');

    clock.advance(RETIRE_AFTER_MS - 1);
    await keys(t).management.advance();
    assert.ok(
      (await jwks(t)).keys.some((k) => k.kid === oldKid),
      'still published one ms before TTL + tolerance',
    );
    clock.advance(1);
    assert.deepEqual(
      (await keys(t).management.advance()).map((m) => `${m.kid}:${m.to}`),
      [`${oldKid}:retired`],
    );
    assert.ok(!(await jwks(t)).keys.some((k) => k.kid === oldKid), 'a retired key is gone from the JWKS');
    assert.equal(t.services.keySet().find(oldKid), undefined);
  });

  test('malicious: no private member in the JWKS (EdDSA, ES256, RS256), nor in the logs; the private key is encrypted at rest', async () => {
    await keys(t).management.create({ alg: 'ES256' }, OPERATOR);
    const published = (await jwks(t)).keys;
    assert.deepEqual([...new Set(published.map((k) => k.alg ?? ''))].sort(), ['ES256', 'RS256'].filter((a) => published.some((k) => k.alg === a)).sort());
    for (const key of published)
      for (const member of PRIVATE_MEMBERS) assert.equal((key as Record<string, unknown>)[member], undefined, `${key.kid}.${member}`);

    const opened = parseKeyEncryptionKey(kek);
    const raw = await rows(t);
    assert.ok(raw.length >= 4);
    const logs = t.logs.lines.join('\n');
    for (const row of raw) {
      const jwk = openPrivateJwk(opened, row.kid, String(row.alg), row.private_jwk_sealed);
      const text = JSON.stringify(row);
      for (const member of PRIVATE_MEMBERS) {
        const secret = (jwk as Record<string, unknown>)[member];
        if (typeof secret !== 'string') continue;
        assert.ok(!text.includes(secret), `${row.kid}: plaintext ${member} in the row`);
        assert.ok(!logs.includes(secret), `${row.kid}: ${member} in the logs`);
      }
      assert.equal((row.public_jwk as Record<string, unknown>).d, undefined);
    }
  });

  test('malicious: a key written straight into the table (no KEK) is never published nor trusted', async () => {
    const attacker = await generatePrivateJwk('EdDSA', { nowMs: clock.now() });
    const forgedSeal = sealPrivateJwk(parseKeyEncryptionKey(newKek()), attacker);
    await t.services.database.db.execute(
      sql`INSERT INTO signing_keys (kid, alg, state, public_jwk, private_jwk_sealed, created_at, published_at) VALUES (${attacker.kid}, 'EdDSA', 'pending', ${JSON.stringify(toPublicJwk(attacker))}::jsonb, ${forgedSeal}, now(), now())`,
    );
    const seen: string[] = [];
    const detach = t.services.events.attach((e) => seen.push(e.event));
    await keys(t).live.reload();
    detach();
    assert.ok(seen.includes('keys.unreadable'));
    assert.ok(!(await jwks(t)).keys.some((k) => k.kid === attacker.kid));
    const user = await t.register('mallory-victim');
    const forged = await new SignJWT({ client_id: 'gatehouse-cli', scope: 'profile' })
      .setProtectedHeader({ alg: 'EdDSA', kid: attacker.kid, typ: 'at+jwt' })
      .setIssuer(TEST_ISSUER)
      .setAudience(TEST_ISSUER)
      .setSubject(user.id)
      .setIssuedAt(Math.floor(clock.now() / 1000))
      .setExpirationTime(Math.floor(clock.now() / 1000) + 600)
      .setJti('forged')
      .sign(await importJWK(attacker, 'EdDSA'));
    assert.equal((await me(t, forged)).statusCode, 401);
    await t.services.database.db.execute(sql`DELETE FROM signing_keys WHERE kid = ${attacker.kid}`);
  });

  test('malicious: a running instance leaves out a row whose ciphertext was altered, and keeps signing', async () => {
    const victim = await keys(t).management.create({}, OPERATOR);
    const sealed = (await rows(t)).find((r) => r.kid === victim.kid)!.private_jwk_sealed;
    const altered = `${sealed.slice(0, -4)}${sealed.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    await t.services.database.db.execute(sql`UPDATE signing_keys SET private_jwk_sealed = ${altered} WHERE kid = ${victim.kid}`);
    // The set changes only when a state does: retire another pending key to make the reload rebuild.
    const other = await keys(t).management.create({}, OPERATOR);
    await keys(t).management.retire(other.kid, OPERATOR);
    assert.ok(!(await jwks(t)).keys.some((k) => k.kid === victim.kid));
    assert.equal((await me(t, (await t.login('alice')).access_token)).statusCode, 200);
    await t.services.database.db.execute(sql`DELETE FROM signing_keys WHERE kid = ${victim.kid}`);
  });

  test('scheduler steps run at once (instances racing) make each change once: exactly one active key', async () => {
    const next = await keys(t).management.rotate({}, OPERATOR);
    clock.advance(MAX_AGE_MS);
    const results = await Promise.all(Array.from({ length: 6 }, () => keys(t).management.advance()));
    const activations = results.flat().filter((m) => m.to === 'active');
    assert.deepEqual(
      activations.map((m) => m.kid),
      [next.kid],
    );
    assert.equal((await keys(t).management.list()).filter((k) => k.state === 'active').length, 1);
    const audited = await t.services.audit.list({ event: 'key.activated', limit: 50 });
    assert.equal(audited.filter((r) => r.reason === next.kid).length, 1);
  });

  test('audit: every change is a row with the kid as reason, no actor, no key material', async () => {
    const trail = await t.services.audit.list({ limit: 200 });
    const events = new Set<string>(trail.filter((r) => r.event.startsWith('key.')).map((r) => r.event));
    // `key.scheduled` too, but only `rotate <kid>` (an existing key) writes it: see the CLI test.
    for (const event of ['key.created', 'key.activated', 'key.retiring', 'key.retired', 'key.revoked']) assert.ok(events.has(event), event);
    for (const r of trail.filter((x) => x.event.startsWith('key.'))) {
      assert.equal(r.actorId, null);
      assert.match(r.reason ?? '', /^[A-Za-z0-9_-]{43}$/);
    }
  });

  test('the JWKS is served with Cache-Control max-age = GATEHOUSE_JWKS_MAX_AGE_SECONDS', async () => {
    assert.equal((await jwks(t)).cacheControl, 'public, max-age=300');
  });
});

describe('stored keys: automatic rotation and configuration', () => {
  test('GATEHOUSE_KEY_ROTATION_DAYS: the successor is published one max-age before the period ends, then signs', async () => {
    const clock = testClock();
    const t = await startStoreApp({ clock, env: { GATEHOUSE_KEY_ROTATION_DAYS: '1', GATEHOUSE_JWKS_MAX_AGE_SECONDS: '60' } });
    try {
      assert.equal((await jwks(t)).cacheControl, 'public, max-age=60');
      const first = t.services.keySet().signer.kid;
      const lead = 60_000 + KEY_PROPAGATION_MS;
      clock.advance(86_400_000 - lead - 1);
      assert.deepEqual(await keys(t).management.advance(), []);
      clock.advance(1);
      const created = await keys(t).management.advance();
      assert.equal(created.length, 1);
      assert.equal(created[0]!.to, 'pending');
      assert.equal(t.services.keySet().signer.kid, first);
      assert.equal((await keys(t).management.advance()).length, 0, 'no second successor');
      clock.advance(lead);
      await keys(t).management.advance();
      assert.equal(t.services.keySet().signer.kid, created[0]!.kid);
    } finally {
      await t.close();
    }
  });
});
