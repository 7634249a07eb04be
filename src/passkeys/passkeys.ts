import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { auditRecord, type AuditContext } from '../audit/audit-event.js';
import { NotFoundError } from '../errors/errors.js';
import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';
import type { UserStore } from '../users/user-store.js';
import { createPasskeyCeremonies } from './passkey-ceremonies.js';
import { registerPasskey, registrationOptions } from './passkey-registration.js';
import { authenticationOptions, verifyPasskeySignIn, type PasskeySignIn } from './passkey-sign-in.js';
import type { PasskeyRecord, PasskeyStore } from './passkey-store.js';
import { relyingPartyOf, type RelyingParty } from './relying-party.js';

/** Passkeys of users: the two ceremonies, the list, removal. No Fastify in here. */
export interface Passkeys {
  readonly relyingParty: RelyingParty;
  /** Creation options for a new passkey of `user` (see passkey-registration.ts). */
  registrationOptions(user: { readonly id: string; readonly username: string }): Promise<PublicKeyCredentialCreationOptionsJSON>;
  /** Verifies and stores it (PasskeyRefusedError otherwise). */
  register(
    userId: string,
    input: { readonly response: RegistrationResponseJSON; readonly label?: string | undefined },
    audit: AuditContext,
  ): Promise<PasskeyRecord>;
  list(userId: string): Promise<readonly PasskeyRecord[]>;
  /** NotFoundError when the user has no passkey `passkeyId` (another user's reads the same). */
  remove(userId: string, passkeyId: string, audit: AuditContext): Promise<void>;
  /** Whether the user has a passkey: a second factor, so changing factors then needs AAL2. */
  hasPasskey(userId: string): Promise<boolean>;
  /** Request options for a username-less sign-in. */
  signInOptions(): Promise<PublicKeyCredentialRequestOptionsJSON>;
  /** The account an assertion signs in to (LoginRefusedError otherwise, as a wrong password). */
  verifySignIn(response: AuthenticationResponseJSON, audit: AuditContext): Promise<PasskeySignIn>;
}

export interface PasskeysDeps {
  readonly store: PasskeyStore;
  readonly ephemeral: Pick<EphemeralStore, 'set' | 'take'>;
  readonly users: Pick<UserStore, 'findById'>;
  /** GATEHOUSE_ISSUER: the RP ID is its host, the one passkey origin its origin. */
  readonly issuer: string;
  readonly requireVerifiedEmail: boolean;
  /** Epoch ms. */
  readonly now: () => number;
}

export function createPasskeys(deps: PasskeysDeps): Passkeys {
  const rp = relyingPartyOf(deps.issuer);
  const ceremonies = createPasskeyCeremonies({ store: deps.ephemeral, now: deps.now });
  const registration = { passkeys: deps.store, ceremonies, rp, now: deps.now };
  const signIn = { ...registration, users: deps.users, requireVerifiedEmail: deps.requireVerifiedEmail };
  return {
    relyingParty: rp,
    registrationOptions: (user) => registrationOptions(registration, user),
    register: (userId, input, audit) => registerPasskey(registration, userId, input, audit),
    list: (userId) => deps.store.listOfUser(userId),
    async remove(userId, passkeyId, audit) {
      const record = auditRecord(
        audit,
        { event: 'passkey.removed', outcome: 'success', reason: `passkey:${passkeyId.slice(0, 64)}`, actorId: userId, subjectId: userId },
        new Date(deps.now()),
      );
      if (!(await deps.store.remove(passkeyId, userId, [record]))) throw new NotFoundError('no such passkey of this user');
    },
    hasPasskey: async (userId) => (await deps.store.countOfUser(userId)) > 0,
    signInOptions: () => authenticationOptions(signIn),
    verifySignIn: (response, audit) => verifyPasskeySignIn(signIn, response, audit),
  };
}
