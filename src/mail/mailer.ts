import type { MailMessage } from './mail-message.js';

/**
 * How this deployment delivers mail: `smtp` (GATEHOUSE_SMTP_URL), `outbox` (development without
 * SMTP: files under the data directory) or `off` (production without SMTP: the features that mail
 * a code are unavailable).
 */
export type MailDelivery = 'smtp' | 'outbox' | 'off';

export interface Mailer {
  readonly delivery: MailDelivery;
  /** One line for the start-up banner and `gatehouse doctor`; never the SMTP password. */
  readonly description: string;
  /** Rejects when the message could not be handed over (the SMTP server refused it or is unreachable). */
  send(message: MailMessage): Promise<void>;
  close(): Promise<void>;
}

/** Production without SMTP. `send` is never reached: the routes that mail answer 404 first. */
export function mailOff(): Mailer {
  return {
    delivery: 'off',
    description: 'off: password reset, email verification and email change are unavailable (set GATEHOUSE_SMTP_URL)',
    async send() {
      throw new Error('mail is off (GATEHOUSE_SMTP_URL is unset)');
    },
    async close() {},
  };
}
