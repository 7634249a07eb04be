import type { AuditContext } from '../audit/audit-event.js';
import type { Principal } from './principal.js';
import type { SchemeName } from './scheme-name.js';

/** The parts of a request a credential scheme may read; the HTTP layer provides them. */
export interface RequestFacts {
  readonly method: string;
  /** The raw query string, without `?`. */
  readonly query: string;
  /** Every value of a header as sent (raw headers, not folded: duplicates stay visible), by lower-case name. */
  header(name: string): readonly string[];
  /** Where the request came from (client address through trusted proxies), for a scheme that records use. */
  readonly origin?: AuditContext;
}

/**
 * One way a caller proves who it is. The guard asks each scheme a route accepts, in
 * `SCHEME_NAMES` order, whether its credential is present (`read`); the first present one is the
 * only one authenticated, so a request never mixes credentials. A scheme knows nothing of HTTP
 * frameworks, routes or authorization.
 */
export interface CredentialScheme<C = unknown> {
  readonly name: SchemeName;
  /**
   * The credential, or undefined when this scheme's credential is absent. Throws
   * MalformedCredentialError (400) for a credential that is present but unusable in a way the
   * client must fix (a token in the query string, two Authorization headers).
   */
  read(request: RequestFacts): C | undefined;
  /** The principal it proves. Throws InvalidTokenError (401), StoreUnavailableError (503). */
  authenticate(credential: C, request: RequestFacts): Promise<Principal>;
  /**
   * The same past every cache, for a scheme whose principal can gain authentication facts after it
   * was cached (a cookie session stepped up on another instance): the guard asks once before it
   * refuses a step-up requirement.
   */
  authenticateAfresh?(credential: C, request: RequestFacts): Promise<Principal>;
  /**
   * Whether a request authenticated this way needs the cross-site request checks (CSRF): true for
   * credentials a browser attaches by itself (cookies), false for those a client must add.
   */
  readonly ambient: boolean;
}

/** The schemes an app knows, by name; a route may accept only registered ones (startup fails otherwise). */
export type SchemeRegistry = Partial<Readonly<Record<SchemeName, CredentialScheme>>>;
