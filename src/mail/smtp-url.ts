import { isLoopbackHost } from '../config/loopback-host.js';
import { looksLikePlaceholder } from '../config/weak-secret.js';

/** Where and how mail is sent, read from GATEHOUSE_SMTP_URL. Holds the password: never logged. */
export interface SmtpTarget {
  readonly host: string;
  readonly port: number;
  /** `smtps://`: TLS from the first byte (port 465 by default). */
  readonly secure: boolean;
  /** `smtp://` to anything but loopback in production: STARTTLS is required, never skipped. */
  readonly requireTls: boolean;
  readonly auth: { readonly user: string; readonly pass: string } | undefined;
}

/**
 * Parses `smtp[s]://[user:password@]host[:port]`. Returns a problem (never quoting the URL, which
 * holds a password) or the target. A query string is refused rather than ignored: nodemailer would
 * read options from it, `tls.rejectUnauthorized=false` or `ignoreTLS=true` among them, and a
 * setting that silently switches off certificate checks is worse than one that stops the start.
 */
export function parseSmtpUrl(raw: string, production: boolean): SmtpTarget | string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a URL: smtp://host:port or smtps://user:password@host:port';
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return 'must start with smtp:// or smtps://';
  if (url.hostname === '') return 'must name a host';
  if (url.pathname !== '' && url.pathname !== '/') return 'must not have a path';
  if (url.search !== '' || url.hash !== '') return 'must not have a query or fragment (options in the URL could switch off TLS checks)';
  const user = decodeURIComponent(url.username);
  const pass = decodeURIComponent(url.password);
  if ((user === '') !== (pass === '')) return 'must give both a user and a password, or neither';
  if (production && pass !== '' && (pass.length < 12 || looksLikePlaceholder(pass))) {
    return 'its password is a placeholder or shorter than 12 characters';
  }
  const secure = url.protocol === 'smtps:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return Object.freeze({
    host,
    port: url.port === '' ? (secure ? 465 : 587) : Number(url.port),
    secure,
    requireTls: production && !secure && !isLoopbackHost(host),
    auth: user === '' ? undefined : Object.freeze({ user, pass }),
  });
}
