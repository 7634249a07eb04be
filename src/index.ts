/**
 * Gatehouse as a library: the Fastify plugin, the declarative requirements and policies for the
 * host's own routes, the principal they see, and the errors they throw. This is the whole public
 * surface (the package's `exports` lists nothing else); the standalone server is `gatehouse serve`.
 */
export { gatehouse, principalOf, type GatehouseOptions } from './http/gatehouse-plugin.js';
export type { GatehouseApi } from './http/gatehouse-api.js';
export { sendError as sendGatehouseError } from './http/error-handler.js';
export { gatehouseServerOptions } from './http/pre-routing-errors.js';
export { guardResource, type ResourceGuard } from './http/resource-guard.js';
export { gatehouseSocket, type GatehouseSocketOptions, type MessageDecision, type SocketConnection, type SocketMessage } from './http/gatehouse-socket.js';
export { CLOSE_CODES } from './sockets/open-sockets.js';
export {
  AUTHENTICATED,
  PUBLIC,
  authorize,
  type ProtectedRequirement,
  type PublicRequirement,
  type ResourceRule,
  type RouteRequirement,
  type SecretRequirement,
} from './guard/requirement.js';
export { allOf, anyOf, definePolicy, enforcePolicy, type Policy } from './guard/policy.js';
export { sameTenant, type TenantOwned } from './guard/tenant-boundary.js';
export { holdsRole, ownedByCaller, type UserOwned } from './guard/ownership.js';
export type { BearerPrincipal, Principal, PrincipalShared, PrincipalUser, SchemeName, SessionPrincipal, TicketPrincipal } from './guard/principal.js';
export type { ScopeDefinition } from './oauth/scope-catalogue.js';
export type { ResourceServer } from './oauth/resource-servers.js';
export type { OAuthClient } from './oauth/clients.js';
// The plugin's `config` option: what the plugin reads from process.env when it is not given.
export { loadConfig, type Config, type LoadConfigOptions } from './config/config.js';
export { startupFailureLine } from './errors/startup-failure.js';
export { ErrorCodes, ForbiddenError, GatehouseError, InvalidTokenError, NotFoundError, ValidationError, type ErrorCode } from './errors/errors.js';
