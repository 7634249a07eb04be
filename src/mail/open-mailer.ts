import type { Config } from '../config/config.js';
import { createDevelopmentOutbox, type OutboxNotice } from './development-outbox.js';
import { mailOff, type Mailer } from './mailer.js';
import { createSmtpMailer } from './smtp-mailer.js';

/** SMTP when configured; else the development outbox, or nothing at all in production. */
export function openMailer(config: Pick<Config, 'env' | 'smtp' | 'mailFrom' | 'dataDir'>, onOutboxWritten: OutboxNotice): Mailer {
  if (config.smtp !== undefined) return createSmtpMailer(config.smtp, config.mailFrom);
  if (config.env === 'development') return createDevelopmentOutbox(config.dataDir, config.mailFrom, onOutboxWritten);
  return mailOff();
}
