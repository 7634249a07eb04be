import type { AuditRecord } from '../audit/audit-event.js';
import { emailKeyOf } from '../email/email-address.js';
import type { Mailer } from '../mail/mailer.js';
import type { Refusal } from '../throttle/limiter.js';
import type { UserRecord, UserStore } from '../users/user-store.js';
import { usernameKey } from '../users/username.js';
import type { EmailCodePurpose } from './email-code.js';
import type { EmailCodeStore } from './email-code-store.js';

/** What mailing a code needs (a reset here, a confirmation in src/email). */
export interface CodeMailDeps {
  readonly users: Pick<UserStore, 'findById' | 'findByUsernameKey' | 'findByVerifiedEmailKey'>;
  readonly codes: EmailCodeStore;
  readonly mailer: Mailer;
  /** GATEHOUSE_LIMIT_MAIL_ACCOUNT: a refusal means this account got a mail of this kind too recently. */
  readonly accountMailLimit: (purpose: EmailCodePurpose, userId: string) => Promise<Refusal | undefined>;
  readonly recordAudit: (record: AuditRecord) => Promise<void>;
  readonly issuer: string;
  readonly now: () => number;
}

/** Exactly one of the two (the HTTP schema checks it); either is looked up, never both. */
export type AccountIdentifier = { readonly username: string } | { readonly email: string };

/** The account a username or an address names. An address finds only an account that confirmed it. */
export async function findAccount(users: CodeMailDeps['users'], who: AccountIdentifier): Promise<UserRecord | undefined> {
  if ('username' in who) {
    // As at login: such names are no account's, and a NUL is not even a question PostgreSQL answers.
    if (who.username.length > 256 || who.username.includes('\u0000')) return undefined;
    return users.findByUsernameKey(usernameKey(who.username));
  }
  const key = emailKeyOf(who.email);
  return key === undefined ? undefined : users.findByVerifiedEmailKey(key);
}
