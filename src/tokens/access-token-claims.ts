/**
 * The access-token claims live in the verification package, so the server and every service using
 * `@gatehouse/verify` read one definition.
 */
export { ACCESS_TOKEN_TYP, scopesOf, type AccessTokenClaims } from '@gatehouse/verify';
