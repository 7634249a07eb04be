import { and, eq, gt } from 'drizzle-orm';
import type { EmailCodePurpose } from '../../recovery/email-code.js';
import type { EmailCode, EmailCodeStore } from '../../recovery/email-code-store.js';
import { runQuery, type Db } from './database.js';
import { insertAudit } from './drizzle-audit-log.js';
import { emailCodes } from './schema.js';

type Row = typeof emailCodes.$inferSelect;

function toEmailCode(row: Row): EmailCode {
  return Object.freeze({ ...row, purpose: row.purpose as EmailCodePurpose });
}

/** EmailCodeStore over drizzle: the same statements on PGlite and PostgreSQL. */
export function createDrizzleEmailCodeStore(db: Db): EmailCodeStore {
  const live = (digest: string, purpose: EmailCodePurpose, now: Date) =>
    and(eq(emailCodes.digest, digest), eq(emailCodes.purpose, purpose), gt(emailCodes.expiresAt, now));
  return {
    async issue(code, audit = []) {
      await runQuery(() =>
        db.transaction(async (tx) => {
          await tx.delete(emailCodes).where(and(eq(emailCodes.userId, code.userId), eq(emailCodes.purpose, code.purpose)));
          await tx.insert(emailCodes).values(code);
          await insertAudit(tx, audit);
        }),
      );
    },
    async find(digest, purpose, now) {
      const [row] = await runQuery(() =>
        db
          .select()
          .from(emailCodes)
          .where(live(digest, purpose, now))
          .limit(1),
      );
      return row === undefined ? undefined : toEmailCode(row);
    },
    async consume(digest, purpose, now) {
      const [row] = await runQuery(() =>
        db
          .delete(emailCodes)
          .where(live(digest, purpose, now))
          .returning(),
      );
      return row === undefined ? undefined : toEmailCode(row);
    },
    async discard(digest) {
      await runQuery(() => db.delete(emailCodes).where(eq(emailCodes.digest, digest)));
    },
    async discardOfUser(userId, purpose) {
      await runQuery(() => db.delete(emailCodes).where(and(eq(emailCodes.userId, userId), eq(emailCodes.purpose, purpose))));
    },
  };
}
