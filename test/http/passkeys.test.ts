import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import { auditEvents, passkeys } from '../../src/stores/db/schema.js';
import { SoftwareAuthenticator, type CeremonyOverrides } from '../support/software-authenticator.js';
import { bearer, startTestApp, TEST_ISSUER, type TestApp } from '../support/test-app.js';

const JSON_SAME_ORIGIN = { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' } as const;

describe('passkeys over HTTP (/me/passkeys, /auth/passkeys), with a software authenticator', () => {
  let t: TestApp;
  let clock = Date.now();
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};

  before(async () => {
    t = await startTestApp({ env: { GATEHOUSE_LIMIT_LOGIN_IP: '1000/15m' }, overrides: { now: () => clock } });
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace']) ids[name] = (await t.register(name)).id;
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) tokens[name] = await twoFactorToken(name);
  });
  after(() => t.close());

  /**
   * A token of a session that proved a second factor just now (recorded in the store, as a step-up
   * does, then refreshed): these users may add and remove passkeys however many they have.
   */
  const twoFactorToken = async (user: string): Promise<string> => {
    const { access_token, refresh_token } = (await t.login(user)) as { access_token: string; refresh_token?: string };
    const sid = String(decodeJwt(access_token).sid);
    assert.ok(await t.services.sessions.recordAuthentication(sid, { methods: ['pwd', 'otp'], time: Math.floor(clock / 1000) }, new Date(clock)));
    const res = await t.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: String(refresh_token) }).toString(),
    });
    assert.equal(res.statusCode, 200, res.body);
    return res.json<{ access_token: string }>().access_token;
  };
  const creationOptions = async (user: string): Promise<PublicKeyCredentialCreationOptionsJSON> => {
    const res = await t.inject({ method: 'POST', url: '/me/passkeys/options', headers: bearer(tokens[user]!), payload: {} });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  const finishRegistration = (user: string, payload: object) => t.inject({ method: 'POST', url: '/me/passkeys', headers: bearer(tokens[user]!), payload });
  /** A passkey of `user` on a new authenticator, registered honestly. */
  const registered = async (user: string, authenticator = new SoftwareAuthenticator(TEST_ISSUER)) => {
    const res = await finishRegistration(user, { response: authenticator.register(await creationOptions(user)), label: 'laptop' });
    assert.equal(res.statusCode, 201, res.body);
    return { authenticator, passkey: res.json<{ id: string }>() };
  };
  const requestOptions = async (): Promise<PublicKeyCredentialRequestOptionsJSON> => {
    const res = await t.inject({ method: 'POST', url: '/auth/passkeys/options', headers: JSON_SAME_ORIGIN, payload: {} });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  };
  const verify = (payload: object) => t.inject({ method: 'POST', url: '/auth/passkeys/verify', headers: JSON_SAME_ORIGIN, payload });
  const signIn = async (authenticator: SoftwareAuthenticator, overrides: CeremonyOverrides = {}, extra: object = {}) =>
    verify({ response: authenticator.assert(await requestOptions(), overrides), ...extra });
  /** The refusal every failed sign-in gets: a wrong password's. */
  const assertRefusedLikeAWrongPassword = (res: { statusCode: number; json: () => { code: string; detail: string } }) => {
    assert.equal(res.statusCode, 401);
    assert.equal(res.json().code, 'ERR_OAUTH_INVALID_GRANT');
    assert.equal(res.json().detail, 'the credentials or grant are invalid');
  };
  const failures = async (reason: string) =>
    t.services.database.db
      .select()
      .from(auditEvents)
      .where(and(eq(auditEvents.event, 'login.failed'), eq(auditEvents.reason, reason)));

  test('malicious: with a passkey, a password-only sign-in can neither add nor remove one; the first one needs a recent sign-in', async () => {
    const stepUp = (res: { statusCode: number; headers: Record<string, unknown>; json: () => { code: string } }, acr: string) => {
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().code, 'ERR_STEP_UP_REQUIRED');
      assert.match(String(res.headers['www-authenticate']), new RegExp(`error="insufficient_user_authentication", acr_values="${acr}", max_age=300`));
    };
    // A session signed in more than 5 minutes ago, stolen: it cannot enrol the thief's passkey.
    const stale = (await t.login('grace')).access_token;
    clock += 301_000;
    try {
      stepUp(await t.inject({ method: 'POST', url: '/me/passkeys/options', headers: bearer(stale), payload: {} }), 'urn:gatehouse:aal1');
    } finally {
      clock -= 301_000;
    }
    // A recent password sign-in may enrol the first passkey.
    tokens.frank = (await t.login('frank')).access_token;
    const { authenticator, passkey } = await registered('frank');
    // The password alone is one factor: with a passkey enrolled, it changes no factor.
    const passwordOnly = (await t.login('frank')).access_token;
    stepUp(await t.inject({ method: 'POST', url: '/me/passkeys/options', headers: bearer(passwordOnly), payload: {} }), 'urn:gatehouse:aal2');
    stepUp(await t.inject({ method: 'DELETE', url: `/me/passkeys/${passkey.id}`, headers: bearer(passwordOnly) }), 'urn:gatehouse:aal2');
    const viaPasskey = (await signIn(authenticator)).json<{ access_token: string }>().access_token;
    // A two-factor sign-in, but older than 5 minutes, no longer counts.
    clock += 301_000;
    try {
      stepUp(await t.inject({ method: 'DELETE', url: `/me/passkeys/${passkey.id}`, headers: bearer(viaPasskey) }), 'urn:gatehouse:aal2');
    } finally {
      clock -= 301_000;
    }
    assert.equal((await t.inject({ method: 'GET', url: '/me/passkeys', headers: bearer(passwordOnly) })).json<unknown[]>().length, 1, 'the passkey stayed');
    assert.equal((await t.inject({ method: 'POST', url: '/me/passkeys/options', headers: bearer(viaPasskey), payload: {} })).statusCode, 200);
    assert.equal((await t.inject({ method: 'DELETE', url: `/me/passkeys/${passkey.id}`, headers: bearer(viaPasskey) })).statusCode, 204);
  });

  test('a passkey sign-in counts as two factors: amr hwk user, acr aal2, in tokens and in the cookie session', async () => {
    const { authenticator } = await registered('erin');
    const res = await signIn(authenticator);
    const claims = decodeJwt(res.json<{ access_token: string }>().access_token);
    assert.deepEqual(claims.amr, ['hwk', 'user']);
    assert.equal(claims.acr, 'urn:gatehouse:aal2');
    assert.equal(typeof claims.auth_time, 'number');
    const cookie = await signIn(authenticator, {}, { mode: 'cookie' });
    const sessionId = cookie.json<{ session: { id: string } }>().session.id;
    const row = await t.services.sessions.find(sessionId);
    assert.deepEqual(row?.authMethods, ['hwk', 'user']);
  });

  test('register, list, sign in for tokens and for a cookie session, remove', async () => {
    const options = await creationOptions('alice');
    assert.equal(options.rp.id, 'gatehouse.test');
    assert.equal(options.authenticatorSelection?.userVerification, 'required');
    assert.equal(options.authenticatorSelection?.residentKey, 'required');
    const { authenticator, passkey } = await registered('alice');
    const list = await t.inject({ method: 'GET', url: '/me/passkeys', headers: bearer(tokens.alice!) });
    assert.deepEqual(
      list.json<{ id: string; label: string }[]>().map((p) => [p.id, p.label]),
      [[passkey.id, 'laptop']],
    );
    assert.equal((await creationOptions('alice')).excludeCredentials?.length, 1, 'its own passkey is excluded');

    const res = await signIn(authenticator);
    assert.equal(res.statusCode, 200, res.body);
    const token = res.json<{ access_token: string; refresh_token: string }>();
    assert.ok(token.refresh_token.length > 0);
    const me = await t.inject({ method: 'GET', url: '/me', headers: bearer(token.access_token) });
    assert.equal(me.json<{ id: string }>().id, ids.alice);

    const cookie = await signIn(authenticator, {}, { mode: 'cookie' });
    assert.equal(cookie.statusCode, 200, cookie.body);
    const setCookie = String(cookie.headers['set-cookie']);
    assert.match(setCookie, /^__Host-gatehouse_session=/);
    const sessions = await t.inject({ method: 'GET', url: '/me/sessions', headers: { cookie: setCookie.split(';')[0]! } });
    assert.equal(sessions.statusCode, 200, sessions.body);
    assert.ok(sessions.json<{ current: boolean }[]>().some((s) => s.current));

    const events = await t.services.audit.list({ subjectId: ids.alice!, limit: 20 });
    assert.ok(events.some((e) => e.event === 'passkey.registered' && e.reason === `passkey:${passkey.id}`));
    assert.equal(events.filter((e) => e.event === 'passkey.signed_in').length, 2);

    const removed = await t.inject({ method: 'DELETE', url: `/me/passkeys/${passkey.id}`, headers: bearer(token.access_token) });
    assert.equal(removed.statusCode, 204, removed.body);
    assert.ok((await t.services.audit.list({ subjectId: ids.alice!, limit: 5 })).some((e) => e.event === 'passkey.removed'));
  });

  test('a removed passkey signs in no more', async () => {
    const { authenticator, passkey } = await registered('bob');
    const passkeyToken = (await signIn(authenticator)).json<{ access_token: string }>().access_token;
    assert.equal((await t.inject({ method: 'DELETE', url: `/me/passkeys/${passkey.id}`, headers: bearer(passkeyToken) })).statusCode, 204);
    assertRefusedLikeAWrongPassword(await signIn(authenticator));
  });

  test("another user's passkey cannot be removed (404, it stays)", async () => {
    const { authenticator, passkey } = await registered('carol');
    const res = await t.inject({ method: 'DELETE', url: `/me/passkeys/${passkey.id}`, headers: bearer(tokens.dave!) });
    assert.equal(res.statusCode, 404);
    assert.equal((await signIn(authenticator)).statusCode, 200);
  });

  test('a sign-in challenge is single use: the same assertion twice is refused the second time', async () => {
    const { authenticator } = await registered('dave');
    const options = await requestOptions();
    const first = authenticator.assert(options);
    assert.equal((await verify({ response: first })).statusCode, 200);
    // The counter moves on, so only the challenge can refuse it.
    assertRefusedLikeAWrongPassword(await verify({ response: authenticator.assert(options) }));
    assert.ok((await failures('passkey_challenge_unknown')).length > 0);
  });

  test('a registration challenge cannot complete a sign-in, nor a sign-in challenge a registration', async () => {
    const { authenticator } = await registered('erin');
    const creation = await creationOptions('erin');
    assertRefusedLikeAWrongPassword(await verify({ response: authenticator.assert(await requestOptions(), { challenge: creation.challenge }) }));
    assert.ok((await failures('passkey_wrong_ceremony')).length > 0);
    const request = await requestOptions();
    const res = await finishRegistration('erin', { response: new SoftwareAuthenticator(TEST_ISSUER).register({ ...creation, challenge: request.challenge }) });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<{ code: string }>().code, 'ERR_PASSKEY_REFUSED');
  });

  test("another user's registration challenge is refused", async () => {
    const aliceOptions = await creationOptions('alice');
    const res = await finishRegistration('bob', { response: new SoftwareAuthenticator(TEST_ISSUER).register(aliceOptions) });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json<{ code: string }>().code, 'ERR_PASSKEY_REFUSED');
    assert.equal((await t.inject({ method: 'GET', url: '/me/passkeys', headers: bearer(tokens.bob!) })).json<unknown[]>().length, 0);
  });

  test('another origin in clientDataJSON, or another RP ID, is refused at registration and sign-in', async () => {
    for (const overrides of [{ origin: 'https://evil.example' }, { origin: 'https://gatehouse.test:8443' }, { rpId: 'evil.example' }]) {
      const res = await finishRegistration('carol', { response: new SoftwareAuthenticator(TEST_ISSUER).register(await creationOptions('carol'), overrides) });
      assert.equal(res.statusCode, 400, JSON.stringify(overrides));
    }
    const { authenticator } = await registered('carol');
    for (const overrides of [{ origin: 'https://evil.example' }, { rpId: 'evil.example' }]) {
      assertRefusedLikeAWrongPassword(await signIn(authenticator, overrides));
    }
    assert.equal((await signIn(authenticator)).statusCode, 200, 'the honest assertion still works');
  });

  test('without user verification: no registration, no sign-in', async () => {
    const noUv = new SoftwareAuthenticator(TEST_ISSUER, false);
    const res = await finishRegistration('dave', { response: noUv.register(await creationOptions('dave')) });
    assert.equal(res.statusCode, 400);
    const { authenticator } = await registered('dave');
    assertRefusedLikeAWrongPassword(await signIn(authenticator, { userVerified: false }));
    assert.ok((await failures('passkey_verification_failed')).length > 0);
  });

  test('a counter that did not increase (a cloned authenticator) is refused and audited', async () => {
    const { authenticator } = await registered('erin');
    assert.equal((await signIn(authenticator, { counter: 5 })).statusCode, 200);
    assertRefusedLikeAWrongPassword(await signIn(authenticator, { counter: 5 }));
    assertRefusedLikeAWrongPassword(await signIn(authenticator, { counter: 3 }));
    const audited = await failures('passkey_counter_not_increased');
    assert.ok(audited.some((e) => e.subjectId === ids.erin));
    assert.equal((await signIn(authenticator, { counter: 6 })).statusCode, 200);
    // An authenticator without a counter (always 0) is not a clone.
    const counterless = new SoftwareAuthenticator(TEST_ISSUER);
    counterless.counterStep = 0;
    await registered('erin', counterless);
    assert.equal((await signIn(counterless)).statusCode, 200);
    assert.equal((await signIn(counterless)).statusCode, 200);
  });

  test('an unknown credential, a forged signature and a disabled user read as a wrong password', async () => {
    const stranger = new SoftwareAuthenticator(TEST_ISSUER);
    stranger.register(await creationOptions('alice'));
    assertRefusedLikeAWrongPassword(await signIn(stranger));
    assert.ok((await failures('passkey_unknown_credential')).length > 0);

    const { authenticator } = await registered('bob');
    const forged = authenticator.assert(await requestOptions());
    const tampered = { ...forged, response: { ...forged.response, signature: Buffer.alloc(70, 1).toString('base64url') } };
    assertRefusedLikeAWrongPassword(await verify({ response: tampered }));

    assert.equal((await signIn(authenticator)).statusCode, 200, 'the honest assertion works');
    await t.services.userDirectory.setStatus(ids.bob!, { disabledAt: new Date() });
    assertRefusedLikeAWrongPassword(await signIn(authenticator));
    assert.ok((await failures('account_disabled')).some((e) => e.subjectId === ids.bob));
    await t.services.userDirectory.setStatus(ids.bob!, { disabledAt: null });
  });

  test('a malformed body is a 400, never a 500', async () => {
    for (const payload of [{}, { response: {} }, { response: { id: 'x', rawId: 'x', type: 'public-key', response: { clientDataJSON: '!!' } } }]) {
      assert.equal((await verify(payload)).statusCode, 400, JSON.stringify(payload));
    }
    const garbage = {
      id: 'AA',
      rawId: 'AA',
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON: 'AA', authenticatorData: 'AA', signature: 'AA' },
    };
    assertRefusedLikeAWrongPassword(await verify({ response: garbage }));
  });

  test('the passkey table holds no secret: the public key only', async () => {
    const rows = await t.services.database.db.select().from(passkeys).where(eq(passkeys.userId, ids.alice!));
    for (const row of rows) assert.ok(row.publicKey.length > 0);
  });
});
