import { createHash, timingSafeEqual } from 'node:crypto';
import { GENERATE_SECRET, looksLikePlaceholder } from '../config/weak-secret.js';

/**
 * A machine credential that is one of a configured list of secrets, presented as
 * `Authorization: Bearer <secret>` (today: the revocation feed, GATEHOUSE_REVOCATION_FEED_SECRETS).
 * A list so a secret can be rotated: add the new one, move the callers, drop the old one.
 */
export type SharedSecretCheck = (presented: string) => boolean;

const MIN_LENGTH = 32;
/** RFC 6750 §2.1 b64token: what a Bearer header can carry. */
const B64TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/**
 * Why a configured secret is not acceptable (the message never quotes it), or undefined. Outside
 * development it must be long, not a placeholder and not a repeated pattern, as the other secrets.
 */
export function sharedSecretProblem(value: string, production: boolean): string | undefined {
  if (!B64TOKEN.test(value)) return 'each secret must be letters, digits and "-._~+/" (it is sent as a Bearer token)';
  if (!production) return undefined;
  if (value.length < MIN_LENGTH) return `each secret must be at least ${MIN_LENGTH} characters; generate one with: ${GENERATE_SECRET}`;
  if (looksLikePlaceholder(value)) return `a secret looks like a placeholder; generate a random one: ${GENERATE_SECRET}`;
  if (new Set(value).size < 16) return 'a secret is not random enough (repeated characters); generate a random one';
  return undefined;
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Compares digests, not the strings, so the comparison is constant time whatever the lengths, and
 * every configured secret is compared (no early exit), so the time says nothing about which one
 * came close.
 */
export function createSharedSecretCheck(secrets: readonly string[]): SharedSecretCheck {
  if (secrets.length === 0) throw new TypeError('at least one secret is required');
  const known = secrets.map(digest);
  return (presented) => {
    const candidate = digest(presented);
    let match = false;
    for (const d of known) match = timingSafeEqual(candidate, d) || match;
    return match;
  };
}
