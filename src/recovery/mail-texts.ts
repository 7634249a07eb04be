import type { MailMessage } from '../mail/mail-message.js';

/**
 * The mails Gatehouse sends, in plain text. The code travels in the link's query (the access log
 * writes paths only) and alone on a line, for clients that call the API with it.
 */
export interface CodeMailInput {
  readonly to: string;
  readonly username: string;
  /** GATEHOUSE_ISSUER: the hosted pages live under it. */
  readonly issuer: string;
  readonly code: string;
  readonly ttlMinutes: number;
}

export function passwordResetMail(input: CodeMailInput): MailMessage {
  return {
    to: input.to,
    subject: 'Reset your password',
    text: [
      `Someone asked to reset the password of the account "${input.username}" at ${input.issuer}.`,
      '',
      `To choose a new password, open this link within ${input.ttlMinutes} minutes:`,
      `${input.issuer}/reset-password?code=${input.code}`,
      '',
      'or give this code to POST /auth/password-reset/complete:',
      input.code,
      '',
      'Every session of the account ends when the new password is set.',
      'If you did not ask for this, ignore this mail: your password stays as it is.',
    ].join('\n'),
  };
}

export function emailConfirmationMail(input: CodeMailInput & { readonly change: boolean }): MailMessage {
  return {
    to: input.to,
    subject: 'Confirm your email address',
    text: [
      input.change
        ? `The account "${input.username}" at ${input.issuer} asked to use this address from now on.`
        : `The account "${input.username}" was registered at ${input.issuer} with this address.`,
      '',
      `To confirm it, open this link within ${input.ttlMinutes} minutes:`,
      `${input.issuer}/confirm-email?code=${input.code}`,
      '',
      'or give this code to POST /auth/email/confirm:',
      input.code,
      '',
      'If this was not you, ignore this mail: the address is not used until it is confirmed.',
    ].join('\n'),
  };
}

/** To the old address when a change is asked for: the owner learns of it even if the session was not theirs. */
export function emailChangeNotice(input: { readonly to: string; readonly username: string; readonly issuer: string }): MailMessage {
  return {
    to: input.to,
    subject: 'Your email address is being changed',
    text: [
      `The account "${input.username}" at ${input.issuer} asked to move to another email address.`,
      'The change takes effect once the new address is confirmed; until then this address stays.',
      '',
      'If this was not you, change your password now: whoever asked is signed in to your account.',
    ].join('\n'),
  };
}

/** To an address that is already another account's confirmed address: its owner learns, the requester does not. */
export function emailInUseNotice(input: { readonly to: string; readonly issuer: string }): MailMessage {
  return {
    to: input.to,
    subject: 'Your email address was offered for another account',
    text: [
      `Someone asked ${input.issuer} to use this address for an account, but it already belongs to yours.`,
      'Nothing was changed. If you want to sign in and forgot your password, use "Forgot password?" on the sign-in page.',
    ].join('\n'),
  };
}
