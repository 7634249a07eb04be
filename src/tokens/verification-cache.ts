/** The verification cache lives in the verification package, which the server's verifier wraps. */
export { createVerificationCache, type VerificationCache } from '@gatehouse/verify';
