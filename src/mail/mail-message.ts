/** One plain-text mail to one recipient. The body may hold a code: it is sent, never logged. */
export interface MailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
}
