import { and, asc, eq, inArray, isNotNull, lte, ne, sql } from 'drizzle-orm';
import type { JWK } from 'jose';
import type { SigningAlgorithm } from '../../keys/jwk-validation.js';
import type { KeyState } from '../../keys/key-lifecycle.js';
import type { KeyTransition, SigningKeyStore, StoredSigningKey } from '../../keys/signing-key-store.js';
import { runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { signingKeys } from './schema.js';

// Any fixed number, the same in every instance; distinct from the migration lock.
const KEY_LOCK_ID = 0x6b65_7973;

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

function toStored(row: typeof signingKeys.$inferSelect): StoredSigningKey {
  return Object.freeze({
    kid: row.kid,
    alg: row.alg as SigningAlgorithm,
    state: row.state as KeyState,
    publicJwk: row.publicJwk as JWK,
    privateJwkSealed: row.privateJwkSealed,
    createdAt: row.createdAt,
    publishedAt: row.publishedAt,
    activateAt: row.activateAt,
    activatedAt: row.activatedAt,
    retiringAt: row.retiringAt,
    retiredAt: row.retiredAt,
    revokedAt: row.revokedAt,
  });
}

/** Serialises key changes across instances for the rest of the transaction (PostgreSQL and PGlite alike). */
async function lockKeys(tx: Tx): Promise<void> {
  await tx.execute(sql`SELECT pg_advisory_xact_lock(${KEY_LOCK_ID})`);
}

async function activeKid(tx: Tx): Promise<string | undefined> {
  const [row] = await tx.select({ kid: signingKeys.kid }).from(signingKeys).where(eq(signingKeys.state, 'active'));
  return row?.kid;
}

/** Retire-then-activate, in this order, so the one-active index never sees two. */
async function activate(tx: Tx, kid: string, now: Date, transitions: KeyTransition[]): Promise<boolean> {
  const current = await activeKid(tx);
  if (current !== undefined) {
    await tx
      .update(signingKeys)
      .set({ state: 'retiring', retiringAt: now, activateAt: null })
      .where(and(eq(signingKeys.kid, current), eq(signingKeys.state, 'active')));
    transitions.push({ kid: current, to: 'retiring' });
  }
  const done = await tx
    .update(signingKeys)
    .set({ state: 'active', activatedAt: now })
    .where(and(eq(signingKeys.kid, kid), eq(signingKeys.state, 'pending')))
    .returning({ kid: signingKeys.kid });
  if (done.length === 0) return false;
  transitions.push({ kid, to: 'active' });
  return true;
}

/** SigningKeyStore over the `signing_keys` table; audit rows go in the transaction of the change. */
export function createDrizzleSigningKeyStore(db: Db): SigningKeyStore {
  const inLock = <T>(work: (tx: Tx) => Promise<T>): Promise<T> =>
    runQuery(() =>
      db.transaction(async (tx) => {
        await lockKeys(tx);
        return work(tx);
      }),
    );

  return {
    list: (options = {}) =>
      runQuery(async () => {
        const rows = await db
          .select()
          .from(signingKeys)
          .where(options.includeRetired === true ? undefined : ne(signingKeys.state, 'retired'))
          .orderBy(
            sql`CASE ${signingKeys.state} WHEN 'active' THEN 0 WHEN 'pending' THEN 1 WHEN 'retiring' THEN 2 ELSE 3 END`,
            asc(signingKeys.publishedAt),
            asc(signingKeys.kid),
          );
        return rows.map(toStored);
      }),

    insert: (key, now, audit, options = {}) =>
      inLock(async (tx) => {
        if (options.unless !== undefined) {
          const blocking = await tx
            .select({ kid: signingKeys.kid })
            .from(signingKeys)
            .where(
              options.unless === 'scheduled'
                ? and(eq(signingKeys.state, 'pending'), isNotNull(signingKeys.activateAt))
                : inArray(signingKeys.state, ['pending', 'active']),
            )
            .limit(1);
          if (blocking.length > 0) return false;
        }
        await tx.insert(signingKeys).values({ ...key, state: 'pending', createdAt: now, publishedAt: now });
        await insertAudit(tx, audit([{ kid: key.kid, to: 'pending' }]));
        return true;
      }),

    schedule: (kid, activateAt, audit) =>
      inLock(async (tx) => {
        const done = await tx
          .update(signingKeys)
          .set({ activateAt })
          .where(and(eq(signingKeys.kid, kid), eq(signingKeys.state, 'pending')))
          .returning({ kid: signingKeys.kid });
        if (done.length === 0) return false;
        await insertAudit(tx, audit([{ kid, to: 'pending' }]));
        return true;
      }),

    advance: (cutoffs, audit) =>
      inLock(async (tx) => {
        const transitions: KeyTransition[] = [];
        const current = await activeKid(tx);
        const [candidate] = await tx
          .select({ kid: signingKeys.kid })
          .from(signingKeys)
          .where(
            current === undefined
              ? eq(signingKeys.state, 'pending')
              : and(eq(signingKeys.state, 'pending'), lte(signingKeys.activateAt, cutoffs.now), lte(signingKeys.publishedAt, cutoffs.publishedBefore)),
          )
          .orderBy(asc(signingKeys.activateAt), asc(signingKeys.publishedAt), asc(signingKeys.kid))
          .limit(1);
        if (candidate !== undefined) await activate(tx, candidate.kid, cutoffs.now, transitions);
        const retired = await tx
          .update(signingKeys)
          .set({ state: 'retired', retiredAt: cutoffs.now })
          .where(and(eq(signingKeys.state, 'retiring'), lte(signingKeys.retiringAt, cutoffs.retiringBefore)))
          .returning({ kid: signingKeys.kid });
        for (const r of retired) transitions.push({ kid: r.kid, to: 'retired' });
        await insertAudit(tx, audit(transitions));
        return transitions;
      }),

    retire: (kid, now, audit) =>
      inLock(async (tx) => {
        const [row] = await tx.select({ state: signingKeys.state }).from(signingKeys).where(eq(signingKeys.kid, kid));
        if (row === undefined) return 'not_found';
        if (row.state === 'active') return 'active';
        if (row.state !== 'pending') return 'already';
        await tx
          .update(signingKeys)
          .set({ state: 'retired', retiredAt: now, activateAt: null })
          .where(and(eq(signingKeys.kid, kid), eq(signingKeys.state, 'pending')));
        await insertAudit(tx, audit([{ kid, to: 'retired' }]));
        return 'retired';
      }),

    revoke: (kid, now, audit, replacement) =>
      inLock(async (tx) => {
        const [row] = await tx.select({ state: signingKeys.state, revokedAt: signingKeys.revokedAt }).from(signingKeys).where(eq(signingKeys.kid, kid));
        if (row === undefined) return 'not_found';
        if (row.revokedAt !== null || row.state === 'retired') return 'already';
        const transitions: KeyTransition[] = [];
        if (row.state === 'active') {
          if (replacement === undefined) return 'needs_replacement';
          const [next] = await tx.select({ state: signingKeys.state }).from(signingKeys).where(eq(signingKeys.kid, replacement));
          if (next?.state !== 'pending') return 'bad_replacement';
          // Out of the way first (the one-active index); then the replacement signs.
          await tx.update(signingKeys).set({ state: 'retired', retiredAt: now, revokedAt: now, activateAt: null }).where(eq(signingKeys.kid, kid));
          transitions.push({ kid, to: 'revoked' });
          // Checked above under the lock, so this holds; throwing rolls the revocation back too.
          if (!(await activate(tx, replacement, now, transitions))) throw new Error('the replacement key changed state under the lock');
        } else {
          await tx.update(signingKeys).set({ state: 'retired', retiredAt: now, revokedAt: now, activateAt: null }).where(eq(signingKeys.kid, kid));
          transitions.push({ kid, to: 'revoked' });
        }
        await insertAudit(tx, audit(transitions));
        return 'revoked';
      }),
  };
}
