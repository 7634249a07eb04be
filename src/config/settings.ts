import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_LIMITS, LIMIT_NAMES, parseLimitSpec, type LimitName, type LimitSpec } from '../throttle/limit-spec.js';
import { parseOriginList } from '../guard/trusted-origins.js';

/**
 * One setting: its variable, how a value is checked, its default (written here and nowhere else)
 * and one line of documentation. loadConfig validates with it, `npm run docs:settings` writes the
 * README's table from it, and `gatehouse doctor --settings` lists it.
 */
export interface Setting<T> {
  readonly name: string;
  /** Parses a non-empty value; undefined: a secret or a derived value loadConfig reads itself (never quoted in a message). */
  readonly schema: z.ZodType<T> | undefined;
  /** Used when the variable is unset or empty; undefined where the default is derived (see `shownDefault`). */
  readonly fallback: T;
  /** The default as documentation shows it. */
  readonly shownDefault: string;
  readonly doc: string;
  /** Never echoed: not in messages, not in `doctor --settings`. */
  readonly secret?: boolean;
}

function setting<T>(name: string, spec: { schema?: z.ZodType<T>; fallback: T; shown?: string; doc: string; secret?: boolean }): Setting<T> {
  return Object.freeze({
    name,
    schema: spec.schema,
    fallback: spec.fallback,
    shownDefault: spec.shown ?? (spec.fallback === undefined ? 'unset' : `\`${String(spec.fallback)}\``),
    doc: spec.doc,
    ...(spec.secret === true ? { secret: true } : {}),
  });
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function isCidr(entry: string): boolean {
  const [address, prefix, ...rest] = entry.split('/');
  if (address === undefined || rest.length > 0) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const wholeNumber = (min: number, max: number, message: string, maxMessage = message, minMessage = message) =>
  z.coerce.number({ error: message }).int(message).min(min, minMessage).max(max, maxMessage);

/** A whole number in range, or `off` (undefined). */
const numberOrOff = (pattern: RegExp, min: number, max: number, message: string) =>
  z.string().transform((v, ctx): number | undefined => {
    if (v === 'off') return undefined;
    const n = pattern.test(v) ? Number(v) : Number.NaN;
    if (!(n >= min && n <= max)) ctx.addIssue({ code: 'custom', message });
    return n;
  });

/**
 * `a@b.c` or `Name <a@b.c>`: one address, no line break (a header injection), no comma, `@` or
 * quote in the name (which an address parser could read as a second address).
 */
function isMailFrom(value: string): boolean {
  const match = /^(?:([^<>\r\n,;@"]*[^<>\s,;@"])\s*<([^<>\s]+)>|([^<>\s,;]+))$/.exec(value);
  const address = match?.[2] ?? match?.[3];
  return address !== undefined && z.email().safeParse(address).success;
}

const commaList = z.string().transform((v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0),
);

/** Exact origins (scheme://host[:port]), comma or space separated; the first entry that is not one is named. */
const originList = z.string().transform((v, ctx): string[] => {
  try {
    return parseOriginList(v);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return [];
  }
});

export type DatabaseTarget =
  | { readonly kind: 'postgres'; readonly url: string }
  /**
   * `template`: a PGlite data-directory dump (`dumpDataDir`) of an already migrated database to start
   * from instead of running initdb; never set from the environment (the test runner uses it).
   */
  | { readonly kind: 'pglite-memory'; readonly template?: string }
  | { readonly kind: 'pglite-dir'; readonly path: string };

/** One Redis Sentinel (GATEHOUSE_REDIS_SENTINELS). */
export interface RedisSentinelAddress {
  readonly host: string;
  readonly port: number;
}

const limitSchema = z.string().transform((v, ctx): LimitSpec | null => {
  try {
    return parseLimitSpec(v);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return null;
  }
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Every setting, in the order the README lists them. */
export const SETTINGS = {
  HOST: setting('HOST', {
    schema: z.string().min(1),
    fallback: '127.0.0.1',
    doc: 'listen address; development without GATEHOUSE_ENV refuses a non-loopback `HOST` (it would serve development keys to the network), and the banner warns when GATEHOUSE_ENV=development allows it',
  }),
  PORT: setting('PORT', {
    schema: wholeNumber(0, 65535, 'must be a port number'),
    fallback: 8000,
    doc: 'listen port',
  }),
  GATEHOUSE_METRICS_PORT: setting('GATEHOUSE_METRICS_PORT', {
    schema: numberOrOff(/^\d{1,5}$/, 1, 65535, 'must be a port number from 1 to 65535, or "off"'),
    fallback: undefined as number | undefined,
    shown: '`off`',
    doc: 'port of the Prometheus metrics server (1–65535, not `PORT`), or `off`',
  }),
  GATEHOUSE_METRICS_HOST: setting('GATEHOUSE_METRICS_HOST', {
    schema: z.string().min(1),
    fallback: '127.0.0.1',
    doc: 'its listen address; setting it without a port is an error',
  }),
  GATEHOUSE_ENV: setting('GATEHOUSE_ENV', {
    schema: z.enum(['development', 'production'], { error: 'must be "development" or "production"' }),
    fallback: undefined as 'development' | 'production' | undefined,
    shown: 'see "Which mode"',
    doc: '`development` or `production`; wins over every other rule (see "Which mode")',
  }),
  GATEHOUSE_ISSUER: setting('GATEHOUSE_ISSUER', {
    schema: z.string().refine((v) => {
      const u = parseUrl(v);
      // RFC 8414 §2: https with no query or fragment; plain http only for development.
      return u !== undefined && (u.protocol === 'https:' || u.protocol === 'http:') && u.search === '' && u.hash === '';
    }, 'must be an http(s) URL without query or fragment'),
    fallback: undefined as string | undefined,
    shown: 'development: `http://HOST:PORT`; production: required (https)',
    doc: '`iss` of every token and RFC 8414 `issuer`; an https value says production',
  }),
  GATEHOUSE_AUDIENCE: setting('GATEHOUSE_AUDIENCE', {
    schema: commaList.refine((list) => list.length > 0, 'must name at least one audience'),
    fallback: undefined as string[] | undefined,
    shown: 'the issuer',
    doc: '`aud` of access tokens; a comma list is accepted by verifiers, the first goes into tokens',
  }),
  GATEHOUSE_RESOURCES: setting('GATEHOUSE_RESOURCES', {
    schema: z.string().min(1),
    fallback: undefined as string | undefined,
    shown: 'none: every token has `GATEHOUSE_AUDIENCE`',
    doc: 'path to a JSON file of RFC 8707 resource servers `{"resources":[{"identifier","scopes","description"?}]}` (see Resource servers)',
  }),
  GATEHOUSE_SIGNING_KEYS: setting('GATEHOUSE_SIGNING_KEYS', {
    schema: z.string().min(1),
    fallback: undefined as string | undefined,
    shown: 'development: generated and persisted; production: required by `serve` and `keys`',
    doc: 'path to a private JWKS file `{"keys":[…]}`; each key has `kid` and `alg` (`EdDSA`/Ed25519, `ES256`, `RS256` ≥ 2048 bits); the first signs, the rest only verify; setting it says production',
  }),
  GATEHOUSE_KEY_SOURCE: setting('GATEHOUSE_KEY_SOURCE', {
    schema: z.enum(['file', 'store'], { error: 'must be "file" or "store"' }),
    fallback: 'file' as 'file' | 'store',
    doc: "`file` (`GATEHOUSE_SIGNING_KEYS`, or the generated development key) or `store`: keys in the database's `signing_keys` table with their lifecycle (see Signing keys); `store` with `GATEHOUSE_SIGNING_KEYS` is an error",
  }),
  GATEHOUSE_KEY_ENCRYPTION_KEY: setting('GATEHOUSE_KEY_ENCRYPTION_KEY', {
    fallback: undefined as string | undefined,
    secret: true,
    shown:
      'production: required with `store` by `serve` and `keys`, and for TOTP second factors (without it enrolment is refused); development: generated in `GATEHOUSE_DATA_DIR/key-encryption-key` (mode 0600), used for TOTP whatever `GATEHOUSE_KEY_SOURCE` is',
    doc: 'base64url of ≥ 32 random bytes that seals the stored private keys (with `store`) and the TOTP secrets (AES-256-GCM); placeholders and repeated bytes are refused; never logged; `serve` refuses to start while confirmed TOTP factors exist that it does not open; setting it says production',
  }),
  GATEHOUSE_JWKS_MAX_AGE_SECONDS: setting('GATEHOUSE_JWKS_MAX_AGE_SECONDS', {
    schema: wholeNumber(0, 86_400, 'must be a whole number of seconds from 0 to 86400', 'must be at most 86400 seconds (a day)'),
    fallback: 300,
    doc: 'the JWKS `Cache-Control: max-age`, 0–86400; a stored key is published this long before it signs',
  }),
  GATEHOUSE_KEY_ROTATION_DAYS: setting('GATEHOUSE_KEY_ROTATION_DAYS', {
    schema: numberOrOff(/^\d{1,4}$/, 1, 3650, 'must be a whole number of days from 1 to 3650, or "off"'),
    fallback: undefined as number | undefined,
    shown: '`off`',
    doc: 'with `store`: rotate automatically every N days (1–3650), or `off`',
  }),
  GATEHOUSE_DATABASE_URL: setting('GATEHOUSE_DATABASE_URL', {
    schema: z.string().transform((v, ctx): DatabaseTarget => {
      if (v === 'memory:') return { kind: 'pglite-memory' };
      if (/^postgres(ql)?:\/\//.test(v)) {
        if (parseUrl(v) === undefined) ctx.addIssue({ code: 'custom', message: 'is not a valid postgres:// URL' });
        return { kind: 'postgres', url: v };
      }
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) ctx.addIssue({ code: 'custom', message: 'must be postgres://…, memory: or a directory path' });
      return { kind: 'pglite-dir', path: v };
    }),
    fallback: undefined as DatabaseTarget | undefined,
    shown: '`GATEHOUSE_DATA_DIR/db`',
    doc: '`postgres://…` → PostgreSQL; `memory:` → in-memory PGlite; a path → PGlite on disk',
  }),
  // Safe by default: no statement of a request takes anywhere near a second, and PostgreSQL's own
  // default (none) lets a lock held elsewhere hold every pooled connection, and so every request, for as long.
  GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS: setting('GATEHOUSE_DATABASE_STATEMENT_TIMEOUT_MS', {
    schema: wholeNumber(100, 600_000, 'must be a whole number of milliseconds from 100 to 600000', 'must be at most 600000 ms', 'must be at least 100 ms'),
    fallback: 5000,
    doc: 'PostgreSQL: the longest a statement may run or wait for a lock (`statement_timeout` on the pooled connections; migrations run without it), 100–600000 ms. A statement past it is cancelled and its request answered 503 `ERR_STORE_UNAVAILABLE` with `Retry-After`; a request also waits at most 5 s for one of the 10 pooled connections',
  }),
  GATEHOUSE_DATABASE_NAMED_STATEMENTS: setting('GATEHOUSE_DATABASE_NAMED_STATEMENTS', {
    schema: z.enum(['on', 'off'], { error: 'must be "on" or "off"' }),
    fallback: 'on' as 'on' | 'off',
    doc: 'PostgreSQL: `on` → each pooled connection parses and plans a statement once (named prepared statements, at most 512 texts); `off` behind a pooler that cannot keep them across transactions (PgBouncer in transaction mode before 1.21, or without `max_prepared_statements`)',
  }),
  GATEHOUSE_REDIS_URL: setting('GATEHOUSE_REDIS_URL', {
    schema: z.string().refine((v) => /^rediss?:\/\//.test(v) && parseUrl(v) !== undefined, 'must be a redis:// or rediss:// URL'),
    fallback: undefined as string | undefined,
    doc: '`redis://…` → Redis for ephemeral state; unset → in process',
  }),
  GATEHOUSE_REDIS_SENTINELS: setting('GATEHOUSE_REDIS_SENTINELS', {
    schema: commaList.transform((list, ctx): RedisSentinelAddress[] => {
      const out: RedisSentinelAddress[] = [];
      for (const entry of list) {
        const match = /^(.+):(\d{1,5})$/.exec(entry);
        const port = Number(match?.[2]);
        if (match?.[1] === undefined || !(port >= 1 && port <= 65535)) ctx.addIssue({ code: 'custom', message: `"${entry.slice(0, 64)}" is not host:port` });
        else out.push({ host: match[1].replace(/^\[(.*)\]$/, '$1'), port });
      }
      if (list.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one sentinel' });
      return out;
    }),
    fallback: undefined as RedisSentinelAddress[] | undefined,
    shown: 'unset',
    doc: 'comma list of Redis Sentinel `host:port`s: Redis for ephemeral state is the primary they name, followed through a failover (instead of `GATEHOUSE_REDIS_URL`; no Redis password or TLS in this mode)',
  }),
  GATEHOUSE_REDIS_SENTINEL_NAME: setting('GATEHOUSE_REDIS_SENTINEL_NAME', {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 characters of letters, digits, ".", "_", "-"'),
    fallback: 'mymaster',
    doc: "the primary's name in the sentinels' `sentinel monitor` line; setting it without `GATEHOUSE_REDIS_SENTINELS` is an error",
  }),
  GATEHOUSE_REDIS_KEY_PREFIX: setting('GATEHOUSE_REDIS_KEY_PREFIX', {
    schema: z.string().regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1-64 characters of letters, digits, ":", "_", ".", "-"'),
    fallback: 'gatehouse:',
    doc: 'prefix of every Redis key',
  }),
  GATEHOUSE_REVOCATION_FEED_SECRETS: setting('GATEHOUSE_REVOCATION_FEED_SECRETS', {
    fallback: undefined as string | undefined,
    secret: true,
    shown: 'unset: the endpoint answers 404',
    doc: 'comma list of secrets `GET /revocations` accepts as `Authorization: Bearer` (several for rotation: add the new one, move the resource servers, remove the old); outside development each must be ≥ 32 characters, not a placeholder, not a repeated pattern; never logged',
  }),
  GATEHOUSE_API_KEY_PEPPER: setting('GATEHOUSE_API_KEY_PEPPER', {
    fallback: undefined as string | undefined,
    secret: true,
    shown: 'production: required by `serve`; development: generated in `GATEHOUSE_DATA_DIR/api-key-pepper` (mode 0600)',
    doc: 'comma list of base64url peppers (each ≥ 32 random bytes) under which API key digests are kept (HMAC-SHA-256); the first digests new keys, the others still verify older ones (rotation); placeholders and repeated bytes are refused; never logged',
  }),
  GATEHOUSE_SMTP_URL: setting('GATEHOUSE_SMTP_URL', {
    fallback: undefined as string | undefined,
    secret: true,
    shown: 'development: the outbox (`GATEHOUSE_DATA_DIR/outbox/*.eml`); production: mail off',
    doc: '`smtp://[user:password@]host[:port]` (STARTTLS, required in production unless the host is loopback) or `smtps://…` (TLS); no query string; in production a password must be ≥ 12 characters and not a placeholder; never logged. Unset in production: password reset, email verification and email change are off (their routes answer 404) and the banner says so',
  }),
  GATEHOUSE_MAIL_FROM: setting('GATEHOUSE_MAIL_FROM', {
    schema: z.string().refine(isMailFrom, 'must be an address, or a name and an address: Gatehouse <no-reply@example.com>'),
    fallback: undefined as string | undefined,
    shown: 'development: `Gatehouse <gatehouse@localhost>`; production: required with `GATEHOUSE_SMTP_URL`',
    doc: 'the `From` of every mail',
  }),
  GATEHOUSE_EMAIL_VERIFICATION: setting('GATEHOUSE_EMAIL_VERIFICATION', {
    schema: z.enum(['optional', 'required'], { error: 'must be "optional" or "required"' }),
    fallback: 'optional' as 'optional' | 'required',
    doc: '`optional`: an address given at registration is confirmed by a mailed link, sign-in works meanwhile (only a confirmed address receives password resets); `required`: registration needs an email and sign-in is refused, as for a wrong password, until it is confirmed (`POST /auth/email/verification` resends); needs mail',
  }),
  GATEHOUSE_ACCESS_TOKEN_TTL: setting('GATEHOUSE_ACCESS_TOKEN_TTL', {
    schema: wholeNumber(60, 3600, 'must be a whole number of seconds from 60 to 3600', 'must be at most 3600 seconds', 'must be at least 60 seconds'),
    fallback: 900,
    doc: 'access-token lifetime in seconds, 60–3600',
  }),
  GATEHOUSE_SESSION_TTL: setting('GATEHOUSE_SESSION_TTL', {
    schema: wholeNumber(3600, 31_536_000, 'must be a whole number of seconds', 'must be at most 31536000 seconds (a year)', 'must be at least 3600 seconds'),
    fallback: 30 * 86_400,
    shown: '`2592000` (30 days)',
    doc: "a session's absolute lifetime in seconds (3600 – 1 year)",
  }),
  GATEHOUSE_SESSION_IDLE_TTL: setting('GATEHOUSE_SESSION_IDLE_TTL', {
    schema: wholeNumber(300, 31_536_000, 'must be a whole number of seconds', 'must be at most 31536000 seconds (a year)', 'must be at least 300 seconds'),
    fallback: 7 * 86_400,
    shown: '`604800` (7 days)',
    doc: 'a session ends after this long without a refresh (300 s – the absolute lifetime)',
  }),
  // A minute at most: the window is time in which a replayed stolen token goes unnoticed.
  GATEHOUSE_REFRESH_GRACE_SECONDS: setting('GATEHOUSE_REFRESH_GRACE_SECONDS', {
    schema: wholeNumber(0, 60, 'must be a whole number of seconds from 0 to 60', 'must be at most 60 seconds'),
    fallback: 0,
    shown: '`0` (strict)',
    doc: 'refresh grace window, 0–60 s. Within it, the same client presenting the refresh token it has just spent gets the same successor again (stored only encrypted under the spent token, and only for the window) instead of having its session revoked as reuse. Trade-off: a thief who replays a stolen token within the window gets that same successor too, and no alarm is raised, so the window weakens reuse detection for that many seconds. Use it only for clients that retry on network failure; 0 keeps rotation strict',
  }),
  GATEHOUSE_AUDIT_RETENTION_DAYS: setting('GATEHOUSE_AUDIT_RETENTION_DAYS', {
    schema: wholeNumber(1, 3650, 'must be a whole number of days', 'must be at most 3650 days', 'must be at least 1 day'),
    fallback: 365,
    doc: 'audit rows older than this are deleted by housekeeping (every 10 minutes, in batches)',
  }),
  GATEHOUSE_TRUSTED_PROXIES: setting('GATEHOUSE_TRUSTED_PROXIES', {
    schema: commaList.refine((list) => list.every(isCidr), 'must be a comma-separated list of IP addresses or CIDR ranges'),
    fallback: [] as string[],
    shown: 'none',
    doc: 'comma list of IPs/CIDRs whose `X-Forwarded-For` is believed',
  }),
  GATEHOUSE_ALLOWED_ORIGINS: setting('GATEHOUSE_ALLOWED_ORIGINS', {
    schema: originList,
    fallback: [] as string[],
    shown: "none: the issuer's origin only",
    doc: "exact origins (`https://app.example.com`, comma or space separated; no path, no wildcard) trusted besides the issuer's own: cookie-authenticated writes may come from them (CSRF `Origin`/`Referer` check) and the hosted pages may return to them (`return_to`)",
  }),
  GATEHOUSE_CORS_ORIGINS: setting('GATEHOUSE_CORS_ORIGINS', {
    schema: originList,
    fallback: [] as string[],
    shown: 'none: no CORS',
    doc: 'exact origins (same syntax) whose scripts may call the API cross-origin (CORS, with credentials); any other origin gets no CORS headers',
  }),
  GATEHOUSE_PASSWORD_MIN_LENGTH: setting('GATEHOUSE_PASSWORD_MIN_LENGTH', {
    schema: wholeNumber(8, 64, 'must be a whole number', 'must be at most 64', 'must be at least 8 (NIST SP 800-63B)'),
    fallback: 15,
    doc: 'minimum password length, 8–64',
  }),
  GATEHOUSE_BODY_LIMIT: setting('GATEHOUSE_BODY_LIMIT', {
    schema: z.coerce.number({ error: 'must be a number of bytes' }).int().min(1024, 'must be at least 1024').max(1_048_576, 'must be at most 1048576'),
    fallback: 16 * 1024,
    doc: 'largest request body in bytes',
  }),
  GATEHOUSE_DATA_DIR: setting('GATEHOUSE_DATA_DIR', {
    schema: z.string().min(1),
    fallback: '.gatehouse',
    doc: 'where development keys and the default PGlite database live; the development key here makes a directory a development one',
  }),
  GATEHOUSE_LOG_LEVEL: setting('GATEHOUSE_LOG_LEVEL', { schema: z.enum(LOG_LEVELS), fallback: 'info' as (typeof LOG_LEVELS)[number], doc: 'pino level' }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type SettingValue<K extends SettingName> = (typeof SETTINGS)[K]['fallback'];

const LIMIT_DOCS: Readonly<Record<LimitName, string>> = {
  LOGIN_USER_IP: 'failed logins per username + client address',
  LOGIN_USER: "failed logins per username, not applied at the account's known addresses",
  LOGIN_IP: 'failed logins per client address',
  REGISTER_IP: 'registrations per client address',
  REFRESH_SESSION: 'refreshes per session',
  PASSWORD_CHANGE_USER: 'password changes (and wrong current passwords) per user',
  REVOKE_IP: 'RFC 7009 revocation requests per client address',
  GLOBAL_IP: 'requests of any kind per client address',
  API_KEY: 'requests authenticated by one API key (answered 429, never 401)',
  WS_TICKET: 'WebSocket tickets asked for per user (POST /auth/ws-ticket)',
  MAIL_REQUEST_IP: 'password-reset and confirmation-resend requests per client address',
  MAIL_ACCOUNT:
    'mails with a code per account and kind (reset, confirmation); past it a request is answered as usual (202) and no mail goes, so the answer tells nothing',
  PASSKEY_OPTIONS_IP: 'passkey sign-in challenges asked for per client address (`POST /auth/passkeys/options`)',
  OTP_USER: 'wrong second-factor codes (TOTP or recovery) per account, blocked with backoff like failed logins',
};

/** GATEHOUSE_LIMIT_<NAME>, one per throttling limit, its default from DEFAULT_LIMITS. */
export const LIMIT_SETTINGS: readonly Setting<LimitSpec | null>[] = Object.freeze(
  LIMIT_NAMES.map((name) =>
    setting(`GATEHOUSE_LIMIT_${name}`, {
      schema: limitSchema,
      fallback: parseLimitSpec(DEFAULT_LIMITS[name]),
      shown: `\`${DEFAULT_LIMITS[name]}\``,
      doc: LIMIT_DOCS[name],
    }),
  ),
);

/** Every setting, table order, the limits after the trusted proxies as the README has always listed them. */
export function allSettings(): readonly Setting<unknown>[] {
  const list: Setting<unknown>[] = Object.values(SETTINGS);
  const at = list.findIndex((s) => s.name === 'GATEHOUSE_TRUSTED_PROXIES') + 1;
  return [...list.slice(0, at), ...LIMIT_SETTINGS, ...list.slice(at)];
}
