import { CsrfError, type CsrfLayer } from '../errors/errors.js';
import type { TrustedOrigins } from './trusted-origins.js';

export type { CsrfLayer };

/** What the CSRF layers read from a request: every value of each header as sent (never folded). */
export interface CsrfFacts {
  readonly method: string;
  readonly secFetchSite: readonly string[];
  readonly origin: readonly string[];
  readonly referer: readonly string[];
  readonly contentType: readonly string[];
  /** The route reads a JSON body: its body must then be sent as `application/json` (layer 4). */
  readonly jsonEndpoint: boolean;
}

/**
 * The facts from any reader of raw header values by lower-case name (the guard's `RequestFacts`
 * fits); `jsonEndpoint`: the route reads a JSON body.
 */
export function csrfFactsFrom(request: { readonly method: string; header(name: string): readonly string[] }, jsonEndpoint: boolean): CsrfFacts {
  return {
    method: request.method,
    secFetchSite: request.header('sec-fetch-site'),
    origin: request.header('origin'),
    referer: request.header('referer'),
    contentType: request.header('content-type'),
    jsonEndpoint,
  };
}

export interface CsrfRefusal {
  readonly layer: CsrfLayer;
  /** For the log only: which check refused and what it saw. */
  readonly reason: string;
}

// RFC 9110 §9.2.1: safe methods change nothing, so a forged one gains nothing.
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
// Fetch Metadata: `none` is a navigation the user started (address bar, bookmark), never another site.
const SAME_ORIGIN_SITES = new Set(['same-origin', 'none']);

/** An attacker's header in a log line: bounded and quoted. */
const shown = (value: string): string => JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);

const refuse = (layer: CsrfLayer, reason: string): CsrfRefusal => ({ layer, reason });

/** Layer 1, Fetch Metadata (`Sec-Fetch-Site`): decisive when the browser sends it. */
function fetchMetadataRefusal(site: string): CsrfRefusal | undefined {
  return SAME_ORIGIN_SITES.has(site) ? undefined : refuse('fetch-metadata', `Sec-Fetch-Site is ${shown(site)}`);
}

/** Layer 2, for browsers without Fetch Metadata: `Origin`, else the origin of `Referer`, must be trusted. */
function sourceOriginRefusal(facts: CsrfFacts, trusted: TrustedOrigins): CsrfRefusal | undefined {
  const [origin] = facts.origin;
  if (origin !== undefined) {
    // `null`: an opaque origin (sandboxed frame, data: URL, cross-origin redirect) is nobody we trust.
    if (origin === 'null') return refuse('origin', 'Origin is "null"');
    return trusted.has(origin) ? undefined : refuse('origin', `Origin ${shown(origin)} is not trusted`);
  }
  const [referer] = facts.referer;
  if (referer === undefined) return refuse('origin', 'neither Origin nor Referer is present');
  const refererOrigin = originOfUrl(referer);
  if (refererOrigin === undefined) return refuse('origin', `Referer ${shown(referer)} is not a URL with an origin`);
  return trusted.has(refererOrigin) ? undefined : refuse('origin', `Referer origin ${shown(refererOrigin)} is not trusted`);
}

function originOfUrl(value: string): string | undefined {
  try {
    const origin = new URL(value).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/**
 * Layer 4: a form or `text/plain` body can be sent cross-site without a CORS preflight;
 * `application/json` cannot. The media type is compared case-insensitively, parameters allowed
 * (RFC 9110 §8.3.1).
 */
function contentTypeRefusal(contentType: readonly string[]): CsrfRefusal | undefined {
  if (contentType.length !== 1) return refuse('content-type', contentType.length === 0 ? 'no Content-Type on a JSON endpoint' : 'Content-Type is repeated');
  const value = contentType[0]!;
  const mediaType = value.split(';', 1)[0]!.trim().toLowerCase();
  return mediaType === 'application/json' ? undefined : refuse('content-type', `Content-Type ${shown(value)} is not application/json`);
}

/**
 * The CSRF layers (OWASP CSRF Prevention Cheat Sheet) for a request authenticated by the session
 * cookie; bearer-authenticated requests need none of them. Safe methods pass. For a write:
 * 1. `Sec-Fetch-Site`, when present, must be `same-origin` or `none` (`same-site` is refused: a
 *    sibling subdomain is another application);
 * 2. otherwise `Origin`, else `Referer`'s origin, must be trusted (issuer or
 *    GATEHOUSE_ALLOWED_ORIGINS); neither present, or `Origin: null`, is refused;
 * 4. on a JSON endpoint the body must be `application/json`, whatever layer 1 or 2 said.
 * (Layer 3, the synchronizer token of the hosted forms, lives with the pages.) A repeated
 * `Sec-Fetch-Site`, `Origin` or `Referer` is refused: a browser sends each once, and which copy a
 * proxy or a parser believes is exactly what an attacker would play with.
 *
 * Returns undefined when the request passes, else which layer refused and why (for the log).
 *
 * @example
 * const refusal = csrfRefusal(facts, trustedOrigins(config));
 * if (refusal !== undefined) throw new CsrfError(refusal.layer, refusal.reason);
 */
export function csrfRefusal(facts: CsrfFacts, trusted: TrustedOrigins): CsrfRefusal | undefined {
  if (SAFE_METHODS.has(facts.method.toUpperCase())) return undefined;
  if (facts.secFetchSite.length > 1) return refuse('fetch-metadata', 'Sec-Fetch-Site is repeated');
  if (facts.origin.length > 1) return refuse('origin', 'Origin is repeated');
  if (facts.referer.length > 1) return refuse('origin', 'Referer is repeated');
  const [site] = facts.secFetchSite;
  const sourceRefusal = site === undefined ? sourceOriginRefusal(facts, trusted) : fetchMetadataRefusal(site);
  if (sourceRefusal !== undefined) return sourceRefusal;
  return facts.jsonEndpoint ? contentTypeRefusal(facts.contentType) : undefined;
}

/** {@link csrfRefusal}, throwing: CsrfError (403 `ERR_CSRF`) names the layer in its log reason. */
export function assertNotCrossSite(facts: CsrfFacts, trusted: TrustedOrigins): void {
  const refusal = csrfRefusal(facts, trusted);
  if (refusal !== undefined) throw new CsrfError(refusal.layer, refusal.reason);
}
