/**
 * The hosted pages as HTML strings (no Fastify here; src/http/routes/pages.ts sends them).
 * Templates are files under ./templates rendered by Eta with autoEscape on, so every `<%= %>`
 * interpolation is HTML-escaped by the library: the only raw output (`<%~ %>`) is a layout's body
 * and an include, both rendered by Eta itself. The pages carry no inline script and no inline style
 * (CSP `default-src 'none'; style-src 'self'`); their one stylesheet is /assets/gatehouse.css, and
 * the pages with passkey buttons load their one script, /assets/passkeys.js (CSP `script-src 'self'`).
 */
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

/** Beside this module in src/ and, copied by scripts/build.mjs, in dist/. */
export const TEMPLATE_DIR = fileURLToPath(new URL('./templates/', import.meta.url));

export interface LoginPage {
  readonly csrfToken: string;
  /** Already checked by `safeReturnTo`; carried through the form. */
  readonly returnTo?: string;
  /** What was typed, shown again after a refusal. Never the password. */
  readonly username?: string;
  readonly tenant?: string;
  readonly error?: string;
  /** Whether this deployment sends mail: the "Forgot password?" link only then. */
  readonly mailOn?: boolean;
  /** A word after a registration that must confirm its address first. */
  readonly notice?: string;
  /** Where a passkey sign-in goes (checked like return_to); the button shows only with JavaScript. */
  readonly passkeyTarget?: string;
}

export interface RegisterPage {
  readonly csrfToken: string;
  /** The configured minimum (GATEHOUSE_PASSWORD_MIN_LENGTH), told before the first try. */
  readonly passwordMinLength: number;
  readonly returnTo?: string;
  readonly username?: string;
  readonly email?: string;
  /** GATEHOUSE_EMAIL_VERIFICATION=required: the address field is required. */
  readonly emailRequired?: boolean;
  readonly error?: string;
  readonly fieldErrors?: { readonly username?: string; readonly email?: string; readonly password?: string };
}

export interface AccountSession {
  readonly id: string;
  readonly device: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date;
  /** The session of the browser looking at the page. */
  readonly current: boolean;
}

export interface AccountEvent {
  readonly event: string;
  readonly outcome: string;
  readonly reason: string | null;
  readonly occurredAt: Date;
  readonly ip: string | null;
  readonly byAdministrator: boolean;
}

export interface AccountPage {
  readonly csrfToken: string;
  readonly profile: { readonly id: string; readonly username: string; readonly email: string | null; readonly tenant?: string; readonly createdAt: Date };
  readonly sessions: readonly AccountSession[];
  readonly events: readonly AccountEvent[];
  readonly notice?: string;
  readonly passwordError?: string;
  /** The user's passkeys (managed by /assets/passkeys.js: adding one needs navigator.credentials). */
  readonly passkeys?: readonly AccountPasskey[];
  /** The confirmed authenticator apps (TOTP) and how many recovery codes are left; plain forms, no script. */
  readonly totp?: { readonly factors: readonly AccountFactor[]; readonly recoveryCodesLeft: number };
}

export interface AccountFactor {
  readonly id: string;
  readonly label: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

/** Setting up an authenticator app: the QR code and the secret (shown to the signed-in user only), and the confirming form. */
export interface TotpSetupPage {
  readonly csrfToken: string;
  readonly factorId: string;
  /** The qrcode library's SVG: paths only, checked by the route before it is embedded. */
  readonly qrSvg: string;
  /** The base32 secret, for typing into an app that cannot scan. */
  readonly secret: string;
  readonly error?: string;
}

/** Recovery codes, shown this once. */
export interface RecoveryCodesPage {
  readonly codes: readonly string[];
  /** After the first authenticator app was confirmed (else: a new set replaced the old one). */
  readonly first: boolean;
}

export interface AccountPasskey {
  readonly id: string;
  readonly label: string;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
}

export interface ForgotPasswordPage {
  readonly csrfToken: string;
  /** After a request: the one answer, whoever was named. */
  readonly notice?: string;
}

export interface ResetPasswordPage {
  readonly csrfToken: string;
  /** The mailed code, carried by the form; undefined: no code to use (ask again). */
  readonly code?: string;
  readonly passwordMinLength: number;
  readonly error?: string;
  readonly done?: boolean;
}

export interface ConfirmEmailPage {
  readonly csrfToken: string;
  readonly code?: string;
  readonly error?: string;
  readonly done?: boolean;
}

/**
 * The second step of a sign-in (`challenge`: the password step's MFA challenge, carried by the
 * form) or, `stepUp`, a signed-in session proving a second factor again before something sensitive.
 */
export interface SecondFactorPage {
  readonly csrfToken: string;
  readonly stepUp: boolean;
  /** Where the code form posts. */
  readonly action: '/login/second-factor' | '/login/step-up';
  readonly challenge?: string;
  /** Already checked; carried through the form. */
  readonly returnTo?: string;
  readonly error?: string;
  /** The account has a confirmed TOTP factor (and so recovery codes): the code form shows. */
  readonly totp: boolean;
  /** The account has a passkey: the passkey button shows (with JavaScript). */
  readonly passkey: boolean;
  /** Where a passkey sign-in or a new sign-in goes afterwards (checked like return_to). */
  readonly target: string;
}

export interface LogoutPage {
  readonly csrfToken: string;
}

export interface ErrorPage {
  readonly status: number;
  readonly title: string;
  /** Shown as is (escaped): never a secret, never what the user typed. */
  readonly detail: string;
  /** 429: the Retry-After value, shown in words. */
  readonly retryAfterSeconds?: number;
  readonly requestId?: string;
  readonly next?: { readonly href: string; readonly text: string };
}

export interface PageData {
  readonly login: LoginPage;
  readonly register: RegisterPage;
  readonly account: AccountPage;
  readonly logout: LogoutPage;
  readonly 'forgot-password': ForgotPasswordPage;
  readonly 'reset-password': ResetPasswordPage;
  readonly 'confirm-email': ConfirmEmailPage;
  readonly 'second-factor': SecondFactorPage;
  readonly 'totp-setup': TotpSetupPage;
  readonly 'recovery-codes': RecoveryCodesPage;
  readonly error: ErrorPage;
}

export type PageName = keyof PageData;

export interface PageRenderer {
  render<P extends PageName>(page: P, data: PageData[P]): string;
}

const EVENT_LABELS: Readonly<Record<string, string>> = {
  'user.registered': 'Account created',
  'login.succeeded': 'Signed in',
  'login.failed': 'Failed sign-in',
  'refresh.reuse_detected': 'A reused refresh token ended a session',
  'session.created': 'Signed in (browser)',
  'session.ended': 'Signed out (browser)',
  // Labels of one reason win over the event's own.
  'session.ended:replaced_at_sign_in': 'Browser session replaced by a new sign-in',
  'session.logout': 'Signed out',
  'session.logout_all': 'Signed out everywhere',
  'session.revoked': 'A session was signed out',
  'user.password_changed': 'Password changed',
  'user.password_change_failed': 'Password change refused (wrong current password)',
  'request.throttled': 'Too many attempts; slowed down',
  'user.disabled': 'Account disabled',
  'user.enabled': 'Account enabled',
  'user.locked': 'Account locked',
  'user.unlocked': 'Account unlocked',
  'user.logged_out_by_admin': 'Signed out by an administrator',
  'role.granted': 'Role granted',
  'role.revoked': 'Role removed',
  'membership.added': 'Added to an organisation',
  'membership.removed': 'Removed from an organisation',
  'password_reset.requested': 'Password reset asked for',
  'password_reset.completed': 'Password reset by mailed link',
  'password_reset.refused': 'Password reset link refused',
  'email.confirmation_requested': 'Email confirmation asked for',
  'email.confirmed': 'Email address confirmed',
  'email.confirmation_refused': 'Email confirmation link refused',
  'factor.enrolled': 'Authenticator app set-up started',
  'factor.confirmed': 'Authenticator app added',
  'factor.removed': 'Authenticator app removed',
  'factor.reset_by_admin': 'Authenticator apps removed by an administrator',
  'recovery_codes.generated': 'New recovery codes',
  'mfa.succeeded': 'Second factor accepted',
  'mfa.failed': 'Second factor refused',
  'passkey.registered': 'Passkey added',
  'passkey.removed': 'Passkey removed',
  'passkey.signed_in': 'Signed in with a passkey',
};

const dateFormat = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
const when = (d: Date) => `${dateFormat.format(d)} UTC`;

function seconds(n: number): string {
  if (n < 120) return `${n} second${n === 1 ? '' : 's'}`;
  const minutes = Math.ceil(n / 60);
  return `${minutes} minutes`;
}

/** The template's view of each page: what the page data needs turned into text. */
const views: { readonly [P in PageName]: (data: PageData[P]) => object } = {
  login: (d) => ({
    ...d,
    username: d.username ?? '',
    tenant: d.tenant ?? '',
    mailOn: d.mailOn ?? false,
    registerHref: d.returnTo === undefined ? '/register' : `/register?return_to=${encodeURIComponent(d.returnTo)}`,
  }),
  register: (d) => ({
    ...d,
    username: d.username ?? '',
    email: d.email ?? '',
    emailRequired: d.emailRequired ?? false,
    fieldErrors: d.fieldErrors ?? {},
    loginHref: d.returnTo === undefined ? '/login' : `/login?return_to=${encodeURIComponent(d.returnTo)}`,
  }),
  account: (d) => ({
    ...d,
    profile: { ...d.profile, createdAt: d.profile.createdAt.toISOString(), createdAtText: when(d.profile.createdAt) },
    sessions: d.sessions.map((s) => ({
      ...s,
      createdAt: s.createdAt.toISOString(),
      createdAtText: when(s.createdAt),
      lastUsedAt: s.lastUsedAt.toISOString(),
      lastUsedAtText: when(s.lastUsedAt),
    })),
    passkeys: (d.passkeys ?? []).map((p) => ({
      id: p.id,
      label: p.label,
      createdAtText: when(p.createdAt),
      lastUsedAtText: p.lastUsedAt === null ? 'never' : when(p.lastUsedAt),
    })),
    totp: {
      factors: (d.totp?.factors ?? []).map((f) => ({
        id: f.id,
        label: f.label,
        createdAtText: when(f.createdAt),
        lastUsedAtText: f.lastUsedAt === null ? 'never' : when(f.lastUsedAt),
      })),
      recoveryCodesLeft: d.totp?.recoveryCodesLeft ?? 0,
    },
    events: d.events.map((e) => ({
      at: e.occurredAt.toISOString(),
      atText: when(e.occurredAt),
      label: `${(e.reason === null ? undefined : EVENT_LABELS[`${e.event}:${e.reason}`]) ?? EVENT_LABELS[e.event] ?? e.event}${e.outcome === 'failure' && !(e.event in EVENT_LABELS) ? ' (refused)' : ''}${e.byAdministrator ? ', by an administrator' : ''}`,
      ip: e.ip,
    })),
  }),
  logout: (d) => d,
  'forgot-password': (d) => d,
  'reset-password': (d) => ({ ...d, done: d.done ?? false }),
  'confirm-email': (d) => ({ ...d, done: d.done ?? false }),
  'totp-setup': (d) => ({ ...d, secretGroups: d.secret.match(/.{1,4}/g)?.join(' ') ?? d.secret }),
  'recovery-codes': (d) => d,
  'second-factor': (d) => ({ ...d, passkeyTarget: d.target, signInHref: `/login?return_to=${encodeURIComponent(d.target)}` }),
  error: (d) => ({
    ...d,
    retryAfterText: d.retryAfterSeconds === undefined ? undefined : seconds(d.retryAfterSeconds),
    nextHref: d.next?.href ?? '/account',
    nextText: d.next?.text ?? 'Go to your account',
  }),
};

/**
 * @example createPageRenderer().render('logout', { csrfToken }) // '<!doctype html>…'
 */
export function createPageRenderer(templateDir: string = TEMPLATE_DIR): PageRenderer {
  // cache: each template is read and compiled once per process.
  const eta = new Eta({ views: templateDir, cache: true, autoEscape: true, defaultExtension: '.eta' });
  return {
    render(page, data) {
      return eta.render(`./${page}`, views[page](data));
    },
  };
}
