/** The header an API key may come in (lower case, as RequestFacts looks headers up); `Authorization: Bearer ghk_…` is the other way. */
export const API_KEY_HEADER = 'x-api-key';
