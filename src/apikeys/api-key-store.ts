import type { AuditRecord } from '../audit/audit-event.js';

/** One API key as stored: never the secret, only its peppered digest. */
export interface ApiKeyRecord {
  readonly id: string;
  readonly ownerId: string;
  readonly name: string;
  /** The most the key may carry; each use intersects it with what the owner holds then. */
  readonly scopes: readonly string[];
  readonly tenantId: string | null;
  readonly digest: string;
  readonly pepperId: string;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
  readonly revokedReason: string | null;
  readonly lastUsedAt: Date | null;
  readonly lastUsedIp: string | null;
}

export type NewApiKey = Omit<ApiKeyRecord, 'revokedAt' | 'revokedReason' | 'lastUsedAt' | 'lastUsedIp'>;

/**
 * The storage contract of API keys. `audit` rows are written in the transaction of the change.
 * Every method throws StoreUnavailableError when the database cannot answer.
 */
export interface ApiKeyStore {
  insert(key: NewApiKey, audit?: readonly AuditRecord[]): Promise<ApiKeyRecord>;
  findById(id: string): Promise<ApiKeyRecord | undefined>;
  /** The owner's keys, revoked ones included (a list shows them), newest first. */
  listOfOwner(ownerId: string): Promise<ApiKeyRecord[]>;
  /**
   * Sets `revoked_at` of the owner's key (`at` may be in the future: a rotated key's overlap) unless
   * it is already revoked at or before `at`. False: no such key of this owner, or revoked already.
   */
  revoke(id: string, ownerId: string, at: Date, reason: string, audit?: readonly AuditRecord[]): Promise<boolean>;
  /**
   * A new key and the end of the old one, atomically: a rotation never leaves two keys for good nor
   * none. Only a key not yet revoked nor rotated; of two concurrent rotations one wins (undefined for the other).
   */
  rotate(oldId: string, ownerId: string, oldEndsAt: Date, replacement: NewApiKey, audit?: readonly AuditRecord[]): Promise<ApiKeyRecord | undefined>;
  /** Records a use; the caller throttles (at most once a minute per key). */
  recordUse(id: string, at: Date, ip: string | null, audit?: readonly AuditRecord[]): Promise<void>;
}
