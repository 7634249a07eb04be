/** The one UUID shape check (stores check ids before a query; the verifier checks `sub`): the SDK's. */
export { isUuid } from '@gatehouse/verify/internal';
