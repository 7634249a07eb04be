/**
 * The in-process mirror of every revocation that can still matter, so checking a request is three
 * map lookups and no network round trip. The SDK's class: resource servers subscribed to the feed
 * and the instances themselves decide a token's revocation with the same code.
 */
export { RevocationList } from '@gatehouse/verify/internal';
