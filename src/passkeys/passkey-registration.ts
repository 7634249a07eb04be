import { randomUUID } from 'node:crypto';
import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoBase64URL } from '@simplewebauthn/server/helpers';
import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import { PasskeyRefusedError } from '../errors/errors.js';
import { CEREMONY_LIFETIME_MS, type PasskeyCeremonies } from './passkey-ceremonies.js';
import type { PasskeyRecord, PasskeyStore } from './passkey-store.js';
import type { RelyingParty } from './relying-party.js';
import { userHandleOf } from './user-handle.js';

/** EdDSA, ES256, RS256: what authenticators make; the same list is asked for and accepted. */
export const PASSKEY_ALGORITHMS = [-8, -7, -257];
/** A user keeps a handful of passkeys; a list past this is a script. */
export const MAX_PASSKEYS_PER_USER = 20;
const MAX_LABEL = 64;

export interface PasskeyRegistrationDeps {
  readonly passkeys: PasskeyStore;
  readonly ceremonies: PasskeyCeremonies;
  readonly rp: RelyingParty;
  /** Epoch ms. */
  readonly now: () => number;
}

/**
 * `navigator.credentials.create()` options for a new passkey of `user`: a discoverable credential
 * (username-less sign-in) with user verification, attestation `none` (no authenticator model is
 * required, so none is asked for), the user's passkeys excluded. The challenge is kept as a
 * registration ceremony of this user.
 */
export async function registrationOptions(
  deps: PasskeyRegistrationDeps,
  user: { readonly id: string; readonly username: string },
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const existing = await deps.passkeys.listOfUser(user.id);
  if (existing.length >= MAX_PASSKEYS_PER_USER) throw new PasskeyRefusedError(`already ${MAX_PASSKEYS_PER_USER} passkeys`);
  const options = await generateRegistrationOptions({
    rpName: deps.rp.name,
    rpID: deps.rp.id,
    userName: user.username,
    userDisplayName: user.username,
    userID: userHandleOf(user.id),
    timeout: CEREMONY_LIFETIME_MS,
    attestationType: 'none',
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: [...p.transports] })),
    authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
  });
  await deps.ceremonies.begin({ kind: 'registration', challenge: options.challenge, userId: user.id, origin: deps.rp.origin });
  return options;
}

/**
 * Verifies the browser's answer to {@link registrationOptions} and stores the passkey. Refused
 * (PasskeyRefusedError; the log says why) unless its challenge is a live registration ceremony of
 * this very user (spent whatever the outcome), clientDataJSON names the issuer's origin, the
 * authenticator data the RP ID, the user was verified, and the credential is new.
 */
export async function registerPasskey(
  deps: PasskeyRegistrationDeps,
  userId: string,
  input: { readonly response: RegistrationResponseJSON; readonly label?: string | undefined },
  audit: AuditContext,
): Promise<PasskeyRecord> {
  const ceremony = await deps.ceremonies.take(input.response.response.clientDataJSON);
  if (ceremony === undefined) throw new PasskeyRefusedError('challenge unknown, used or expired');
  if (ceremony.kind !== 'registration') throw new PasskeyRefusedError(`challenge of a ${ceremony.kind} ceremony`);
  if (ceremony.userId !== userId) throw new PasskeyRefusedError("challenge of another user's ceremony");
  let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verified = await verifyRegistrationResponse({
      response: input.response,
      expectedChallenge: ceremony.challenge,
      expectedOrigin: ceremony.origin,
      expectedRPID: deps.rp.id,
      expectedType: 'webauthn.create',
      requireUserPresence: true,
      requireUserVerification: true,
      supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
    });
  } catch (error) {
    throw new PasskeyRefusedError(`verification failed: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!verified.verified) throw new PasskeyRefusedError('verification failed');
  const info = verified.registrationInfo;
  // requireUserVerification refuses this already; the rule is the point of a passkey, so it is said twice.
  if (!info.userVerified) throw new PasskeyRefusedError('user not verified');
  const now = new Date(deps.now());
  const id = randomUUID();
  const label = input.label?.trim().slice(0, MAX_LABEL) || `Passkey added ${now.toISOString().slice(0, 10)}`;
  const passkey: PasskeyRecord = Object.freeze({
    id,
    credentialId: info.credential.id,
    userId,
    publicKey: isoBase64URL.fromBuffer(info.credential.publicKey),
    signCount: info.credential.counter,
    transports: Object.freeze([...(info.credential.transports ?? [])]),
    aaguid: info.aaguid,
    deviceType: info.credentialDeviceType,
    backedUp: info.credentialBackedUp,
    label,
    createdAt: now,
    lastUsedAt: null,
  });
  const record = auditRecord(audit, { event: 'passkey.registered', outcome: 'success', reason: `passkey:${id}`, actorId: userId, subjectId: userId }, now);
  if (!(await deps.passkeys.insert(passkey, [record]))) throw new PasskeyRefusedError('credential registered already');
  return passkey;
}
