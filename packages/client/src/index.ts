export { GatehouseClient, type ClientEvent, type GatehouseClientOptions } from './client.js';
export { GatehouseClientError } from './errors.js';
export type { Me, PasswordChangeRequest, Session, SignInRequest, TokenResponse } from './api-types.js';
export type { components, paths } from './openapi.js';
