import {
  generateAuthenticationOptions,
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import { LoginRefusedError } from '../errors/errors.js';
import type { UserRecord, UserStore } from '../users/user-store.js';
import { CEREMONY_LIFETIME_MS, type PasskeyCeremonies } from './passkey-ceremonies.js';
import type { PasskeyStore } from './passkey-store.js';
import type { RelyingParty } from './relying-party.js';
import { encodedUserHandleOf } from './user-handle.js';

export interface PasskeySignInDeps {
  readonly passkeys: PasskeyStore;
  readonly ceremonies: PasskeyCeremonies;
  readonly rp: RelyingParty;
  readonly users: Pick<UserStore, 'findById'>;
  /** GATEHOUSE_EMAIL_VERIFICATION=required: refused as the password login refuses it. */
  readonly requireVerifiedEmail: boolean;
  /** Epoch ms. */
  readonly now: () => number;
}

/** RFC 8176 methods of a passkey sign-in: a hardware-bound key and the user verified by it (two factors). */
export const PASSKEY_METHODS = Object.freeze(['hwk', 'user'] as const);

/** What a verified passkey sign-in yields: the account and the facts of its authentication. */
export interface PasskeySignIn {
  readonly user: UserRecord;
  readonly passkeyId: string;
  readonly authentication: { readonly methods: readonly string[]; readonly time: number };
}

/**
 * `navigator.credentials.get()` options for a username-less sign-in: no credential list (the
 * authenticator offers its discoverable credentials for the RP ID), user verification required.
 * The challenge is kept as an authentication ceremony.
 */
export async function authenticationOptions(deps: Pick<PasskeySignInDeps, 'ceremonies' | 'rp'>): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const options = await generateAuthenticationOptions({ rpID: deps.rp.id, userVerification: 'required', timeout: CEREMONY_LIFETIME_MS });
  await deps.ceremonies.begin({ kind: 'authentication', challenge: options.challenge, origin: deps.rp.origin });
  return options;
}

/**
 * Verifies an assertion and returns the account it signs in to. Every refusal is a
 * LoginRefusedError (the client reads a wrong password; the reason and, once known, the account
 * go to the log and the audit trail): a challenge that is not a live authentication ceremony
 * (spent whatever the outcome), an unknown credential, a user handle of another account, a
 * signature, origin, RP ID or user-verification failure, a non-zero counter that did not move on
 * (a cloned authenticator), an account gone, disabled, locked or unconfirmed, a counter moved by
 * a concurrent sign-in.
 */
export async function verifyPasskeySignIn(deps: PasskeySignInDeps, response: AuthenticationResponseJSON, audit: AuditContext): Promise<PasskeySignIn> {
  const ceremony = await deps.ceremonies.take(response.response.clientDataJSON);
  if (ceremony === undefined) throw new LoginRefusedError('passkey_challenge_unknown', null);
  if (ceremony.kind !== 'authentication') throw new LoginRefusedError('passkey_wrong_ceremony', null);
  const passkey = response.id.length <= 1024 ? await deps.passkeys.findByCredentialId(response.id) : undefined;
  if (passkey === undefined) throw new LoginRefusedError('passkey_unknown_credential', null);
  const { userHandle } = response.response;
  if (userHandle !== undefined && userHandle !== encodedUserHandleOf(passkey.userId)) throw new LoginRefusedError('passkey_user_mismatch', passkey.userId);
  let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: ceremony.challenge,
      expectedOrigin: ceremony.origin,
      expectedRPID: deps.rp.id,
      expectedType: 'webauthn.get',
      // Counter 0 here: the library would refuse a stale counter before we could tell it from a
      // bad signature; it is checked below, on a verified assertion only (a clone's, audited).
      credential: { id: passkey.credentialId, publicKey: isoBase64URL.toBuffer(passkey.publicKey), counter: 0, transports: [...passkey.transports] },
      requireUserVerification: true,
    });
  } catch (error) {
    throw new LoginRefusedError('passkey_verification_failed', passkey.userId, error instanceof Error ? error.message : String(error));
  }
  const info = verified.authenticationInfo;
  if (!verified.verified || !info.userVerified) throw new LoginRefusedError('passkey_verification_failed', passkey.userId, 'not verified');
  // WebAuthn §6.1.1: an authenticator that keeps a counter moves it on every assertion.
  if ((info.newCounter > 0 || passkey.signCount > 0) && info.newCounter <= passkey.signCount) {
    throw new LoginRefusedError('passkey_counter_not_increased', passkey.userId, `counter ${info.newCounter} after ${passkey.signCount}`);
  }
  const user = await deps.users.findById(passkey.userId);
  if (user === undefined) throw new LoginRefusedError('unknown_user', null);
  if (user.passwordHash === null) throw new LoginRefusedError('service_account', user.id);
  if (user.disabledAt !== null) throw new LoginRefusedError('account_disabled', user.id);
  if (user.lockedAt !== null) throw new LoginRefusedError('account_locked', user.id);
  if (deps.requireVerifiedEmail && user.emailVerifiedAt === null) throw new LoginRefusedError('email_unverified', user.id);
  const now = deps.now();
  const record = auditRecord(
    audit,
    { event: 'passkey.signed_in', outcome: 'success', reason: `passkey:${passkey.id}`, actorId: user.id, subjectId: user.id },
    new Date(now),
  );
  const recorded = await deps.passkeys.recordUse(
    passkey.id,
    passkey.signCount,
    { signCount: info.newCounter, backedUp: info.credentialBackedUp, at: new Date(now) },
    [record],
  );
  if (!recorded) throw new LoginRefusedError('passkey_used_concurrently', user.id);
  return { user, passkeyId: passkey.id, authentication: { methods: PASSKEY_METHODS, time: Math.floor(now / 1000) } };
}
