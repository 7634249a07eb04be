import { createTransport } from 'nodemailer';
import type { MailMessage } from './mail-message.js';
import type { Mailer } from './mailer.js';
import type { SmtpTarget } from './smtp-url.js';

/** Seconds an SMTP exchange may take: a hung relay must not pile up pending mails for ever. */
const TIMEOUT_MS = 15_000;

/** Mail over SMTP with nodemailer, one pooled connection set for the process. */
export function createSmtpMailer(target: SmtpTarget, from: string): Mailer {
  const transport = createTransport(
    {
      pool: true,
      maxConnections: 2,
      host: target.host,
      port: target.port,
      secure: target.secure,
      requireTLS: target.requireTls,
      ...(target.auth === undefined ? {} : { auth: { user: target.auth.user, pass: target.auth.pass } }),
      connectionTimeout: TIMEOUT_MS,
      greetingTimeout: TIMEOUT_MS,
      socketTimeout: TIMEOUT_MS,
      // nodemailer's own logger would print the SMTP dialogue, message and codes included.
      logger: false,
      debug: false,
    },
    { from },
  );
  return {
    delivery: 'smtp',
    description: `SMTP at ${target.host}:${target.port}${target.secure ? ' (TLS)' : target.requireTls ? ' (STARTTLS required)' : ''}, from ${from}`,
    async send(message: MailMessage) {
      await transport.sendMail({ to: message.to, subject: message.subject, text: message.text });
    },
    async close() {
      transport.close();
    },
  };
}
