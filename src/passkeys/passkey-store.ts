import type { AuditRecord } from '../audit/audit-event.js';

/** How an authenticator keeps a credential: on one device, or synced across a user's devices. */
export type PasskeyDeviceType = 'singleDevice' | 'multiDevice';

/** One registered passkey: a public key and what the authenticator said of it; nothing secret. */
export interface PasskeyRecord {
  /** Gatehouse's id (a UUID): what `DELETE /me/passkeys/{id}` names. */
  readonly id: string;
  /** The WebAuthn credential id, base64url: what an assertion names. Unique across users. */
  readonly credentialId: string;
  readonly userId: string;
  /** The COSE public key, base64url. */
  readonly publicKey: string;
  /** The last signature counter accepted; 0 for an authenticator that keeps none. */
  readonly signCount: number;
  readonly transports: readonly string[];
  /** The authenticator model (all zeros with attestation `none` on most platforms). */
  readonly aaguid: string;
  readonly deviceType: PasskeyDeviceType;
  readonly backedUp: boolean;
  /** The user's name for it ("laptop"), shown in the list. */
  readonly label: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export type NewPasskey = Omit<PasskeyRecord, 'lastUsedAt'>;

/** What a verified assertion moves on: the counter, the backup state, the time of use. */
export interface PasskeyUse {
  readonly signCount: number;
  readonly backedUp: boolean;
  readonly at: Date;
}

/**
 * The storage contract of passkeys. `audit` rows are written in the transaction of the change.
 * Every method throws StoreUnavailableError when the database cannot answer.
 */
export interface PasskeyStore {
  /** False (nothing written) when the credential id is registered already, to this user or another. */
  insert(passkey: NewPasskey, audit?: readonly AuditRecord[]): Promise<boolean>;
  findByCredentialId(credentialId: string): Promise<PasskeyRecord | undefined>;
  /** The user's passkeys, oldest first. */
  listOfUser(userId: string): Promise<PasskeyRecord[]>;
  countOfUser(userId: string): Promise<number>;
  /** Deletes the user's passkey `id`; false when the user has no such passkey. */
  remove(id: string, userId: string, audit?: readonly AuditRecord[]): Promise<boolean>;
  /**
   * Records a use by compare-and-set on the counter: written only while the stored counter is
   * still `expectedSignCount` (two racing assertions with one counter value: one wins). False when
   * the passkey is gone or its counter moved since it was read.
   */
  recordUse(id: string, expectedSignCount: number, use: PasskeyUse, audit?: readonly AuditRecord[]): Promise<boolean>;
}
