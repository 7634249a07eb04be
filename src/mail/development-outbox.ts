import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createTransport } from 'nodemailer';
import type { MailMessage } from './mail-message.js';
import type { Mailer } from './mailer.js';

/** Told of each mail written: where, to whom, about what. Never the body: it holds the code. */
export type OutboxNotice = (notice: { readonly file: string; readonly to: string; readonly subject: string }) => void;

/**
 * Development without SMTP: each mail is composed exactly as SMTP would carry it (RFC 5322, by
 * nodemailer's stream transport) and written to `<dataDir>/outbox/<time>-<random>.eml`, readable by
 * its owner only, for the developer (and the tests) to open.
 */
export function createDevelopmentOutbox(dataDir: string, from: string, onWritten: OutboxNotice): Mailer {
  const directory = path.join(dataDir, 'outbox');
  const composer = createTransport({ streamTransport: true, buffer: true, newline: 'unix' }, { from });
  return {
    delivery: 'outbox',
    description: `development outbox: each mail is a file in ${directory}`,
    async send(message: MailMessage) {
      const info = await composer.sendMail({ to: message.to, subject: message.subject, text: message.text });
      await mkdir(directory, { recursive: true, mode: 0o700 });
      const file = path.join(directory, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`);
      await writeFile(file, info.message, { mode: 0o600, flag: 'wx' });
      onWritten({ file, to: message.to, subject: message.subject });
    },
    async close() {},
  };
}
