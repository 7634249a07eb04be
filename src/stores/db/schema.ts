import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

/**
 * `username_key` is the NFKC, case-folded form: the uniqueness rule lives in the database so two
 * concurrent registrations of one name cannot both succeed.
 */
export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    username: text('username').notNull(),
    usernameKey: text('username_key').notNull().unique('users_username_key_unique'),
    /**
     * The UTS #39 confusable skeletons of username_key (src/users/username-skeleton.ts), unique so
     * that a look-alike of an account is refused as taken. Computed in TypeScript, so a row from
     * before migration 0007 is null until the startup backfill (username-skeleton-backfill.ts) fills
     * it; a row whose skeleton an older account already holds stays null and keeps working.
     */
    usernameSkeleton: text('username_skeleton').unique('users_username_skeleton_unique'),
    usernameUpperSkeleton: text('username_upper_skeleton').unique('users_username_upper_skeleton_unique'),
    email: text('email'),
    /**
     * The address compared for uniqueness and looked up by (src/email/email-address.ts: NFKC,
     * trimmed, lower case). Unique among confirmed addresses only: an unconfirmed one proves
     * nothing, so claiming it must neither fail (which would tell whose it is) nor lock out the
     * owner, who confirms it first and wins.
     */
    emailKey: text('email_key'),
    /** When the user confirmed `email` by a mailed code; null: not confirmed (no password reset is mailed to it). */
    emailVerifiedAt: timestamp('email_verified_at', { withTimezone: true, mode: 'date' }),
    /** Null for a service account only (`kind`): it has no password and cannot sign in. */
    passwordHash: text('password_hash'),
    /**
     * `person`: signs in with a password. `service`: a machine principal (src/admin/service-accounts.ts)
     * with no password, which authenticates only with its API keys; every owner check (disabled,
     * locked, deleted, token version, roles, tenant) applies to it as to a person.
     */
    kind: text('kind').notNull().default('person'),
    roles: text('roles')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    disabledAt: timestamp('disabled_at', { withTimezone: true, mode: 'date' }),
    /** A security lock (suspected compromise), distinct from an administrative disable; both stop logins and kill tokens. */
    lockedAt: timestamp('locked_at', { withTimezone: true, mode: 'date' }),
    /**
     * Access tokens carry the version current when they were issued (`tver`); bumping it (log out
     * everywhere, lock, disable) kills every token issued before. `tokens_revoked_at` is when it was
     * last bumped: instances load the bumps still younger than an access token's lifetime.
     */
    tokenVersion: integer('token_version').notNull().default(0),
    tokensRevokedAt: timestamp('tokens_revoked_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('users_tokens_revoked_at_idx')
      .on(t.tokensRevokedAt)
      .where(sql`${t.tokensRevokedAt} IS NOT NULL`),
    // A person always has a password hash, a service account never: no row is half of each.
    check('users_kind_password_check', sql`(${t.kind} = 'person' AND ${t.passwordHash} IS NOT NULL) OR (${t.kind} = 'service' AND ${t.passwordHash} IS NULL)`),
    uniqueIndex('users_verified_email_key_unique')
      .on(t.emailKey)
      .where(sql`${t.emailVerifiedAt} IS NOT NULL`),
  ],
);

/** An organisation whose users, roles and resources are kept apart from every other tenant's. */
export const tenants = pgTable('tenants', {
  id: uuid('id').primaryKey(),
  /** Lower-case name used at login (`tenant=acme`) and in the CLI; unique. */
  slug: text('slug').notNull().unique('tenants_slug_unique'),
  name: text('name').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/**
 * A user's place in a tenant and the roles held there. Roles of one tenant mean nothing in
 * another: the token carries only the active tenant's.
 */
export const memberships = pgTable(
  'memberships',
  {
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id, { onDelete: 'cascade' }),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    roles: text('roles')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.userId], name: 'memberships_pk' }), index('memberships_user_id_idx').on(t.userId)],
);

/** One row per login: the refresh-token family that the access tokens' `sid` names. */
export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    clientId: text('client_id').notNull(),
    /**
     * The tenant chosen at login (`tid` of every access token of this session); null for a session
     * not bound to a tenant. Leaving the tenant ends the session at its next refresh.
     */
    tenantId: uuid('tenant_id').references(() => tenants.id, { onDelete: 'cascade' }),
    /** Space-separated scopes granted at login; a refresh never widens them. */
    scope: text('scope').notNull(),
    /** RFC 8707: the resource server the session's tokens are for (their `aud`); null: the default audience. */
    resource: text('resource'),
    device: text('device').notNull(),
    ip: text('ip'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    idleExpiresAt: timestamp('idle_expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    revokedReason: text('revoked_reason'),
    /** `refresh`: a refresh-token family (OAuth clients); `cookie`: a browser session, which never has refresh tokens. */
    kind: text('kind').notNull().default('refresh'),
    /** Cookie sessions only: SHA-256 of the cookie's 256-bit random secret (src/sessions/session-cookie.ts); null otherwise. */
    cookieSecretDigest: text('cookie_secret_digest'),
    /**
     * Cookie sessions only: the user's token version at sign-in. The session dies once the user's
     * version moves past it (role or tenant change, logout everywhere, password change); null otherwise.
     */
    tokenVersion: integer('token_version'),
    /**
     * RFC 8176 methods the user proved for this session (`amr` of its tokens): `{pwd}` after a
     * password, `{pwd,otp}` after a second factor, `{hwk,user}` for a passkey with user verification.
     */
    authMethods: text('auth_methods').array().notNull(),
    /** When the user proved them (`auth_time`): sign-in or a later step-up; a refresh never moves it. */
    authTime: timestamp('auth_time', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('sessions_user_id_idx').on(t.userId),
    // Instances load the sessions revoked within an access token's lifetime; housekeeping purges by expiry.
    index('sessions_revoked_at_idx')
      .on(t.revokedAt)
      .where(sql`${t.revokedAt} IS NOT NULL`),
    index('sessions_expires_at_idx').on(t.expiresAt),
    check('sessions_kind_check', sql`${t.kind} IN ('refresh', 'cookie')`),
    // A cookie session has both (without its version it would outlive a bump); a refresh session neither.
    check(
      'sessions_cookie_fields_check',
      sql`(${t.kind} = 'cookie' AND ${t.cookieSecretDigest} IS NOT NULL AND ${t.tokenVersion} IS NOT NULL) OR (${t.kind} = 'refresh' AND ${t.cookieSecretDigest} IS NULL AND ${t.tokenVersion} IS NULL)`,
    ),
  ],
);

/** Refresh tokens, stored only as SHA-256 digests. `spent_at` is set exactly once, by compare-and-set. */
export const refreshTokens = pgTable(
  'refresh_tokens',
  {
    digest: text('digest').primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    generation: integer('generation').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    spentAt: timestamp('spent_at', { withTimezone: true, mode: 'date' }),
    /**
     * With a grace window only: the successor token, encrypted under a key derived from this
     * (spent) token, so a client repeating this token within the window gets the same successor.
     * Useless without this token, and cleared by housekeeping once the window has passed.
     */
    successorSealed: text('successor_sealed'),
  },
  // The unique (session_id, generation) index also serves lookups by session.
  (t) => [unique('refresh_tokens_session_generation_unique').on(t.sessionId, t.generation)],
);

/** The per-token deny-list: access tokens revoked before their expiry (RFC 7009). */
export const revokedAccessTokens = pgTable(
  'revoked_access_tokens',
  {
    jti: text('jti').primaryKey(),
    /** The token's own `exp`: after it the entry is useless and housekeeping deletes it. */
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('revoked_access_tokens_expires_at_idx').on(t.expiresAt)],
);

/**
 * What is left of a deleted account for as long as its tokens could live: the token version it
 * ended at. Its sessions and its `tokens_revoked_at` went with the row, and without this a
 * resource server catching up (GET /revocations) would never learn that its tokens are dead.
 * No foreign key: the user row is gone. Housekeeping deletes rows older than a day.
 */
export const deletedUsers = pgTable('deleted_users', {
  id: uuid('id').primaryKey(),
  tokenVersion: integer('token_version').notNull(),
  deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }).notNull(),
});

/**
 * The append-only audit trail: one row per security event, written in the same transaction as the
 * change it records. No secrets: never a password, token, hash or attempted username.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    occurredAt: timestamp('occurred_at', { withTimezone: true, mode: 'date' }).notNull(),
    event: text('event').notNull(),
    outcome: text('outcome').notNull(),
    /** A stable reason code (`wrong_password`, `refresh_token_reuse`…), never free text from a client. */
    reason: text('reason'),
    /** Who acted (a user, or null for an anonymous caller). */
    actorId: uuid('actor_id'),
    /** Whose account the event concerns; not a foreign key, so the trail outlives a deleted user. */
    subjectId: uuid('subject_id'),
    sessionId: uuid('session_id'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    requestId: text('request_id'),
  },
  (t) => [
    index('audit_events_subject_idx').on(t.subjectId, t.id),
    index('audit_events_event_idx').on(t.event, t.id),
    index('audit_events_occurred_at_idx').on(t.occurredAt),
  ],
);

/**
 * Signing keys kept in the store (GATEHOUSE_KEY_SOURCE=store). The private JWK is sealed with
 * AES-256-GCM under GATEHOUSE_KEY_ENCRYPTION_KEY, bound to its kid, so the database alone cannot
 * sign and a row cannot borrow another's ciphertext. The partial unique index keeps at most one
 * key active whatever instances race.
 */
export const signingKeys = pgTable(
  'signing_keys',
  {
    kid: text('kid').primaryKey(),
    alg: text('alg').notNull(),
    /** pending (published, not signing) → active (signing) → retiring (published, not signing) → retired (gone). */
    state: text('state').notNull(),
    publicJwk: jsonb('public_jwk').notNull(),
    privateJwkSealed: text('private_jwk_sealed').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    publishedAt: timestamp('published_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** When a rotation wants it to sign; null for a standby key. Never before published_at + the JWKS max-age. */
    activateAt: timestamp('activate_at', { withTimezone: true, mode: 'date' }),
    activatedAt: timestamp('activated_at', { withTimezone: true, mode: 'date' }),
    /** Its last signature: it stays published one access-token lifetime (+ clock tolerance) after. */
    retiringAt: timestamp('retiring_at', { withTimezone: true, mode: 'date' }),
    retiredAt: timestamp('retired_at', { withTimezone: true, mode: 'date' }),
    /** Removed at once (compromise): tokens it signed stop verifying. */
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    uniqueIndex('signing_keys_one_active')
      .on(t.state)
      .where(sql`${t.state} = 'active'`),
    check('signing_keys_state_check', sql`${t.state} IN ('pending', 'active', 'retiring', 'retired')`),
  ],
);

/**
 * API keys owned by users (src/apikeys). The secret is never stored: `digest` is its HMAC-SHA-256
 * under the server pepper named by `pepper_id` (GATEHOUSE_API_KEY_PEPPER), so a copy of this table
 * cannot present a key. `scopes` is what the key may carry at most; each use intersects it with
 * what the owner holds then.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    ownerId: uuid('owner_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    scopes: text('scopes').array().notNull(),
    tenantId: uuid('tenant_id').references(() => tenants.id, { onDelete: 'cascade' }),
    digest: text('digest').notNull(),
    pepperId: text('pepper_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    revokedReason: text('revoked_reason'),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
    lastUsedIp: text('last_used_ip'),
  },
  (t) => [index('api_keys_owner_idx').on(t.ownerId)],
);

/**
 * Codes mailed to a user (src/recovery): a password reset, the confirmation of an address. Only the
 * SHA-256 digest of the 256-bit code is kept; a code is consumed by deleting its row (`DELETE …
 * RETURNING`), so it works once. A reset code also holds a fingerprint of the password hash it was
 * issued under: once the password changes, the code no longer matches and is dead.
 */
export const emailCodes = pgTable(
  'email_codes',
  {
    digest: text('digest').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose').notNull(),
    /** Where the code was mailed: the address it confirms, or the account's address for a reset. */
    email: text('email').notNull(),
    /** password_reset only: SHA-256 of the password hash current when it was issued. */
    passwordFingerprint: text('password_fingerprint'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [
    index('email_codes_user_purpose_idx').on(t.userId, t.purpose),
    index('email_codes_expires_at_idx').on(t.expiresAt),
    check('email_codes_purpose_check', sql`${t.purpose} IN ('password_reset', 'email_verification', 'email_change')`),
    check('email_codes_fingerprint_check', sql`(${t.purpose} = 'password_reset') = (${t.passwordFingerprint} IS NOT NULL)`),
  ],
);

/**
 * Passkeys (WebAuthn credentials, src/passkeys): the public key an authenticator made for this
 * site, never a secret. `credential_id` (base64url, as the browser names it) is unique across
 * users: an assertion names only the credential, and it must lead to one account. `sign_count` is
 * the authenticator's signature counter (0 for those that keep none); a non-zero counter that does
 * not move on is a cloned authenticator and is refused.
 */
export const passkeys = pgTable(
  'passkeys',
  {
    id: uuid('id').primaryKey(),
    credentialId: text('credential_id').notNull().unique('passkeys_credential_id_unique'),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** The COSE public key, base64url. */
    publicKey: text('public_key').notNull(),
    /** A uint32 in WebAuthn: past PostgreSQL's integer. */
    signCount: bigint('sign_count', { mode: 'number' }).notNull(),
    transports: text('transports').array().notNull(),
    aaguid: text('aaguid').notNull(),
    /** `singleDevice` or `multiDevice` (a synced passkey). */
    deviceType: text('device_type').notNull(),
    backedUp: boolean('backed_up').notNull(),
    label: text('label').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('passkeys_user_idx').on(t.userId),
    check('passkeys_device_type_check', sql`${t.deviceType} IN ('singleDevice', 'multiDevice')`),
    check('passkeys_sign_count_check', sql`${t.signCount} >= 0`),
  ],
);

/**
 * Second factors (src/factors). `totp` only for now: the RFC 6238 secret sealed with AES-256-GCM
 * under the key-encryption key, bound to the factor's id, so a copy of the database cannot compute
 * codes and a row cannot borrow another's ciphertext. `last_step` is the last accepted time step:
 * a code is accepted only by the compare-and-set that moves it forward, so one code is accepted
 * once, whichever instance sees it first. Unconfirmed (`confirmed_at` null) factors do not count
 * as a second factor until a first code proves the user's authenticator holds the secret.
 */
export const factors = pgTable(
  'factors',
  {
    id: uuid('id').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    label: text('label').notNull(),
    sealedSecret: text('sealed_secret').notNull(),
    lastStep: bigint('last_step', { mode: 'number' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    confirmedAt: timestamp('confirmed_at', { withTimezone: true, mode: 'date' }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('factors_user_idx').on(t.userId), check('factors_kind_check', sql`${t.kind} IN ('totp')`)],
);

/** One-time recovery codes (src/factors/recovery-codes.ts): SHA-256 digests only; a row is deleted when used. */
export const recoveryCodes = pgTable(
  'recovery_codes',
  {
    digest: text('digest').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('recovery_codes_user_idx').on(t.userId)],
);
