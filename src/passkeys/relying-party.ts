/**
 * The WebAuthn relying party Gatehouse is: its RP ID is the issuer's host, and the only origin a
 * ceremony may run on is the issuer's origin.
 *
 * GATEHOUSE_ALLOWED_ORIGINS are deliberately not passkey origins: trusting an origin to send a
 * cookie-authenticated write (CSRF) or to be returned to is not trusting its scripts to ask the
 * user's authenticator for an assertion that signs in to every account here. Ceremonies run on
 * the hosted pages, or on a first-party page served from the issuer's origin.
 */
export interface RelyingParty {
  /** The issuer's host name (no port), as `rp.id` and in the authenticator data's RP ID hash. */
  readonly id: string;
  /** What the authenticator shows the user. */
  readonly name: string;
  /** The one origin `clientDataJSON.origin` may name. */
  readonly origin: string;
}

export function relyingPartyOf(issuer: string): RelyingParty {
  const url = new URL(issuer);
  return Object.freeze({ id: url.hostname, name: 'Gatehouse', origin: url.origin });
}
