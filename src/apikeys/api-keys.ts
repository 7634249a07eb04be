import { auditRecord, type AuditContext, type AuditLog, type AuditRecord } from '../audit/audit-event.js';
import { ForbiddenError, InvalidTokenError, NotFoundError, ValidationError } from '../errors/errors.js';
import { principalUserOf, type ApiKeyPrincipal } from '../guard/principal.js';
import type { ScopeCatalogue } from '../oauth/scope-catalogue.js';
import type { Revocations } from '../revocation/revocations.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { UserRecord, UserStore } from '../users/user-store.js';
import type { ApiKeyPeppers, PepperedDigest } from './api-key-peppers.js';
import type { ApiKeyRecord, ApiKeyStore, NewApiKey } from './api-key-store.js';
import { mintApiKey, parseApiKey } from './api-key-token.js';
import { apiKeyRevocationId } from '@gatehouse/verify/internal';

export const MAX_ROTATION_OVERLAP_SECONDS = 7 * 86_400;
/** How long an instance trusts a cached key row; a revocation reaches it sooner through the feed. */
export const API_KEY_CACHE_MS = 60_000;
/** Last use is written at most this often per key (never a write per request). */
export const LAST_USE_INTERVAL_MS = 60_000;
const CACHE_CAPACITY = 10_000;
/** A key as its owner may see it: never the secret, never the digest. */
export interface ApiKeyView {
  readonly id: string;
  readonly name: string;
  readonly scopes: readonly string[];
  readonly tenantId: string | null;
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
}

export interface CreatedApiKey {
  readonly key: ApiKeyView;
  /** Shown once, at creation; nobody can show it again. */
  readonly token: string;
}

export interface CreateApiKeyInput {
  readonly name: string;
  readonly scopes: readonly string[];
  readonly tenantId?: string | undefined;
  readonly expiresInSeconds?: number | undefined;
}

export type ApiKeyEvent = {
  readonly event: 'api_key.last_use_failed' | 'api_key.audit_failed' | 'api_key.announce_failed';
  readonly keyId: string;
  readonly error: unknown;
};

/** The channel on which instances tell each other to drop a cached key row (its end moved). */
export const API_KEY_CHANNEL = 'api-keys';

export interface ApiKeysDeps {
  readonly store: ApiKeyStore;
  readonly peppers: ApiKeyPeppers;
  /** The cached user store: a change elsewhere is seen within its TTL, a token-version bump at once. */
  readonly users: Pick<UserStore, 'findById'>;
  readonly tenants: Pick<TenantStore, 'membership'>;
  readonly scopes: Pick<ScopeCatalogue, 'scopesForRoles'>;
  readonly revocations: Pick<Revocations, 'assertNotRevoked' | 'revokeAccessToken'>;
  readonly audit: Pick<AuditLog, 'record'>;
  /**
   * The access-token lifetime: a revoked key's entry is kept that long, because a client-credentials
   * token granted with the key a moment before carries it (`akid`) and dies with it.
   */
  readonly accessTokenTtlMs: number;
  readonly now: () => number;
  /**
   * Tells every instance to drop its cached row of the key (`forget`): a rotation with an overlap
   * gives the old row an end that a row cached elsewhere before it does not have. Without it,
   * another instance could accept the old key up to API_KEY_CACHE_MS past the overlap.
   */
  readonly announceChanged?: (keyId: string) => Promise<void>;
  readonly onEvent?: (event: ApiKeyEvent) => void;
}

export interface ApiKeys {
  /**
   * `actorId`: who asks (default the owner; an admin for a service account's key). A service account
   * never makes or rotates its own keys (ForbiddenError): a leaked credential must not mint more.
   */
  create(ownerId: string, input: CreateApiKeyInput, context: AuditContext, actorId?: string | null): Promise<CreatedApiKey>;
  list(ownerId: string): Promise<ApiKeyView[]>;
  /** NotFoundError for a key that is not the owner's (or already revoked): never says it exists. */
  revoke(ownerId: string, keyId: string, context: AuditContext, actorId?: string | null): Promise<void>;
  rotate(ownerId: string, keyId: string, overlapSeconds: number, context: AuditContext): Promise<CreatedApiKey>;
  /** Throws InvalidTokenError (401) for any key that does not prove its owner now; StoreUnavailableError (503). */
  authenticate(token: string, context: AuditContext): Promise<ApiKeyPrincipal>;
  /** Forgets a cached row (a key changed here or on another instance). */
  forget(keyId: string): void;
  /** Forgets every cached row (the change feed was lost for a while: a message may have been missed). */
  forgetAll(): void;
}

const viewOf = (key: ApiKeyRecord): ApiKeyView =>
  Object.freeze({
    id: key.id,
    name: key.name,
    scopes: key.scopes,
    tenantId: key.tenantId,
    createdAt: key.createdAt,
    expiresAt: key.expiresAt,
    revokedAt: key.revokedAt,
    lastUsedAt: key.lastUsedAt,
  });

const audited = (
  context: AuditContext,
  event: AuditRecord['event'],
  ownerId: string,
  keyId: string,
  at: Date,
  outcome: AuditRecord['outcome'] = 'success',
  actorId: string | null = ownerId,
) => auditRecord(context, { event, outcome, reason: `api_key:${keyId}`, actorId, subjectId: ownerId }, at);

/** A service account's keys are an admin's to make: the account itself (its own key or token) may not. */
function refuseSelfService(owner: UserRecord | undefined, actorId: string | null): void {
  if (owner?.kind === 'service' && actorId === owner.id) throw new ForbiddenError("a service account's keys are managed by an admin");
}

interface CachedKey {
  readonly row: ApiKeyRecord;
  readonly loadedAt: number;
}

export function createApiKeys(deps: ApiKeysDeps): ApiKeys {
  const cache = new Map<string, CachedKey>();
  const lastRecorded = new Map<string, { at: number; ip: string | null }>();
  const expiredReported = new Map<string, number>();
  // The digest an unknown key id is compared with: the same HMAC work as for a known one. Made on
  // first use, so building the services never needs a pepper (a CLI command on users does not).
  let dummy: PepperedDigest | undefined;
  const dummyDigest = (): PepperedDigest => (dummy ??= deps.peppers.digest('gatehouse unknown api key'));

  /** What the owner holds now: scopes of its global roles and, for a tenant key, its roles there. */
  async function holdings(
    ownerId: string,
    tenantId: string | null,
  ): Promise<{ owner: UserRecord; scopes: ReadonlySet<string>; roles: readonly string[]; tenantRoles: readonly string[] } | undefined> {
    const owner = await deps.users.findById(ownerId);
    if (owner === undefined) return undefined;
    let tenantRoles: readonly string[] = [];
    if (tenantId !== null) {
      const membership = await deps.tenants.membership(tenantId, ownerId);
      if (membership === undefined) return undefined;
      tenantRoles = membership.roles;
    }
    return { owner, scopes: deps.scopes.scopesForRoles(owner.roles, tenantRoles), roles: owner.roles, tenantRoles };
  }

  function newKey(ownerId: string, input: { name: string; scopes: readonly string[]; tenantId: string | null; expiresAt: Date | null }, at: Date) {
    const minted = mintApiKey();
    const record: NewApiKey = { id: minted.keyId, ownerId, ...input, scopes: [...input.scopes], ...deps.peppers.digest(minted.secret), createdAt: at };
    return { record, token: minted.token };
  }

  /**
   * Keys that matched their row's digest in the last API_KEY_CACHE_MS, by the presented key: a job
   * calling in a loop pays the HMAC once a minute, as a bearer token pays its signature check once
   * (the verifier's cache). Only matches are kept, so a wrong secret and an unknown id still cost
   * the same digest work; revocation, expiry and the owner are checked at every use regardless.
   */
  const proven = new Map<string, { readonly keyId: string; readonly digest: string; readonly at: number }>();
  function provenSecret(token: string): { keyId: string; digest: string } | undefined {
    const entry = proven.get(token);
    if (entry === undefined) return undefined;
    if (deps.now() - entry.at < API_KEY_CACHE_MS) return entry;
    proven.delete(token);
    return undefined;
  }
  function remember(token: string, row: ApiKeyRecord): void {
    if (proven.size >= CACHE_CAPACITY) proven.delete(proven.keys().next().value as string);
    proven.set(token, { keyId: row.id, digest: row.digest, at: deps.now() });
  }

  async function loadKey(keyId: string): Promise<ApiKeyRecord | undefined> {
    const cached = cache.get(keyId);
    if (cached !== undefined && deps.now() - cached.loadedAt < API_KEY_CACHE_MS) return cached.row;
    const row = await deps.store.findById(keyId);
    if (row === undefined) return undefined;
    if (cache.size >= CACHE_CAPACITY) cache.delete(cache.keys().next().value as string);
    cache.set(keyId, { row, loadedAt: deps.now() });
    return row;
  }

  /** The key is dead on every instance: durable row first, then the feed entry for their caches. */
  async function announceRevoked(keyId: string, at: Date): Promise<void> {
    cache.delete(keyId);
    const exp = Math.ceil((at.getTime() + Math.max(API_KEY_CACHE_MS, deps.accessTokenTtlMs)) / 1000);
    await deps.revocations.revokeAccessToken({ jti: apiKeyRevocationId(keyId), exp }, at);
  }

  async function announceChanged(keyId: string): Promise<void> {
    cache.delete(keyId);
    try {
      await deps.announceChanged?.(keyId);
    } catch (error) {
      // The change is committed; a lost announcement leaves other caches at most API_KEY_CACHE_MS behind.
      deps.onEvent?.({ event: 'api_key.announce_failed', keyId, error });
    }
  }

  async function recordUse(row: ApiKeyRecord, context: AuditContext, at: Date): Promise<void> {
    const last = lastRecorded.get(row.id) ?? (row.lastUsedAt === null ? undefined : { at: row.lastUsedAt.getTime(), ip: row.lastUsedIp });
    const newAddress = context.ip !== null && last !== undefined && last.ip !== context.ip;
    if (last !== undefined && at.getTime() - last.at < LAST_USE_INTERVAL_MS && !newAddress) return;
    lastRecorded.set(row.id, { at: at.getTime(), ip: context.ip });
    const audit = newAddress ? [audited(context, 'api_key.new_address', row.ownerId, row.id, at)] : [];
    try {
      await deps.store.recordUse(row.id, at, context.ip, audit);
    } catch (error) {
      // A lost last-use write must not refuse a valid key: it is reported, and the next use retries.
      lastRecorded.delete(row.id);
      deps.onEvent?.({ event: 'api_key.last_use_failed', keyId: row.id, error });
    }
  }

  /** An expired key still in use: audited at most once a minute per key, so a looping job is no write per request. */
  async function reportExpiredUse(row: ApiKeyRecord, context: AuditContext, at: Date): Promise<void> {
    const last = expiredReported.get(row.id);
    if (last !== undefined && at.getTime() - last < LAST_USE_INTERVAL_MS) return;
    expiredReported.set(row.id, at.getTime());
    try {
      await deps.audit.record(audited(context, 'api_key.expired_use', row.ownerId, row.id, at, 'failure'));
    } catch (error) {
      deps.onEvent?.({ event: 'api_key.audit_failed', keyId: row.id, error });
    }
  }

  return {
    async create(ownerId, input, context, actorId = ownerId) {
      const name = input.name.trim();
      if (name.length === 0 || name.length > 100) throw new ValidationError([{ field: 'name', message: 'must be 1 to 100 characters' }]);
      const tenantId = input.tenantId ?? null;
      const held = await holdings(ownerId, tenantId);
      if (held === undefined) {
        if (tenantId !== null) throw new ValidationError([{ field: 'tenant', message: 'you are not a member of this tenant' }]);
        throw new NotFoundError('owner of the new api key does not exist');
      }
      refuseSelfService(held.owner, actorId);
      const scopes = [...new Set(input.scopes)].sort();
      const notHeld = scopes.filter((s) => !held.scopes.has(s));
      if (notHeld.length > 0) throw new ForbiddenError(`api key scopes not held by the owner: ${notHeld.join(' ')}`);
      const at = new Date(deps.now());
      const expiresAt = input.expiresInSeconds === undefined ? null : new Date(at.getTime() + input.expiresInSeconds * 1000);
      const { record, token } = newKey(ownerId, { name, scopes, tenantId, expiresAt }, at);
      const stored = await deps.store.insert(record, [audited(context, 'api_key.created', ownerId, record.id, at, 'success', actorId)]);
      return { key: viewOf(stored), token };
    },

    async list(ownerId) {
      return (await deps.store.listOfOwner(ownerId)).map(viewOf);
    },

    async revoke(ownerId, keyId, context, actorId = ownerId) {
      const at = new Date(deps.now());
      const revoked = await deps.store.revoke(keyId, ownerId, at, 'revoked', [audited(context, 'api_key.revoked', ownerId, keyId, at, 'success', actorId)]);
      if (!revoked) throw new NotFoundError('no live api key of this owner with this id');
      await announceRevoked(keyId, at);
    },

    async rotate(ownerId, keyId, overlapSeconds, context) {
      if (!Number.isInteger(overlapSeconds) || overlapSeconds < 0 || overlapSeconds > MAX_ROTATION_OVERLAP_SECONDS) {
        throw new ValidationError([{ field: 'overlap_seconds', message: `must be a whole number from 0 to ${MAX_ROTATION_OVERLAP_SECONDS}` }]);
      }
      const old = await deps.store.findById(keyId);
      if (old === undefined || old.ownerId !== ownerId) throw new NotFoundError('no api key of this owner with this id');
      refuseSelfService(await deps.users.findById(ownerId), ownerId);
      const at = new Date(deps.now());
      const endsAt = new Date(at.getTime() + overlapSeconds * 1000);
      const { record, token } = newKey(ownerId, { name: old.name, scopes: old.scopes, tenantId: old.tenantId, expiresAt: old.expiresAt }, at);
      const stored = await deps.store.rotate(keyId, ownerId, endsAt, record, [audited(context, 'api_key.rotated', ownerId, keyId, at)]);
      if (stored === undefined) throw new NotFoundError('no live api key of this owner with this id');
      // Other instances hold the old row with no end: an overlap of 0 ends it there at once (the
      // revocation feed); a longer one makes them reload the row, which now carries its end.
      if (overlapSeconds === 0) await announceRevoked(keyId, at);
      else await announceChanged(keyId);
      return { key: viewOf(stored), token };
    },

    async authenticate(token, context) {
      const proven = provenSecret(token);
      const parts = proven === undefined ? parseApiKey(token) : undefined;
      const keyId = proven?.keyId ?? parts?.keyId;
      if (keyId === undefined) throw new InvalidTokenError('not a well-formed api key (checksum)');
      const row = await loadKey(keyId);
      // A key proven here a moment ago against this very row needs no second HMAC; anything else does.
      const matches =
        proven !== undefined && row !== undefined ? proven.digest === row.digest : deps.peppers.matches(parts?.secret ?? '', row ?? dummyDigest());
      if (row === undefined || !matches) throw new InvalidTokenError(row === undefined ? 'unknown api key id' : 'api key secret does not match');
      if (proven === undefined) remember(token, row);
      const now = deps.now();
      deps.revocations.assertNotRevoked({ jti: apiKeyRevocationId(row.id), sub: row.ownerId, tver: Number.MAX_SAFE_INTEGER });
      if (row.revokedAt !== null && row.revokedAt.getTime() <= now) throw new InvalidTokenError(`api key revoked (${row.revokedReason ?? 'revoked'})`);
      if (row.expiresAt !== null && row.expiresAt.getTime() <= now) {
        await reportExpiredUse(row, context, new Date(now));
        throw new InvalidTokenError('api key expired');
      }
      const held = await holdings(row.ownerId, row.tenantId);
      if (held === undefined) throw new InvalidTokenError('api key owner no longer exists, or left the key tenant');
      const { owner } = held;
      if (owner.disabledAt !== null) throw new InvalidTokenError('api key owner is disabled');
      if (owner.lockedAt !== null) throw new InvalidTokenError('api key owner is locked');
      await recordUse(row, context, new Date(now));
      const endsAt = Math.min(row.revokedAt?.getTime() ?? Infinity, row.expiresAt?.getTime() ?? Infinity);
      return Object.freeze({
        via: 'api_key',
        keyId: row.id,
        ...(endsAt === Infinity ? {} : { keyEndsAt: endsAt }),
        subject: owner.id,
        // At every use: what the key names and the owner still holds, nothing more.
        scopes: new Set(row.scopes.filter((s) => held.scopes.has(s))),
        roles: Object.freeze([...held.roles, ...held.tenantRoles]),
        ...(row.tenantId === null ? {} : { tenantId: row.tenantId }),
        clientId: 'api-key',
        tokenVersion: owner.tokenVersion,
        user: principalUserOf(owner),
      });
    },

    forget(keyId) {
      cache.delete(keyId);
    },

    forgetAll() {
      cache.clear();
      proven.clear();
    },
  };
}
