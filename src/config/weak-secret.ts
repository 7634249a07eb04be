/** Words people paste from examples; a random base64url string of 43+ characters contains none. */
export const PLACEHOLDER_WORDS = /change|replace|placeholder|example|secret|password|dummy|sample|todo|xxxx/i;

/** The command every message about a weak secret suggests. */
export const GENERATE_SECRET = 'openssl rand -base64 32 | tr "+/" "-_" | tr -d "="';
