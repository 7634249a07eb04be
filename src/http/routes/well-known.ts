import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { PUBLIC } from '../../guard/requirement.js';
import { MFA_GRANT, SUPPORTED_GRANTS, TOKEN_ENDPOINT_AUTH_METHODS } from '../../oauth/token-request.js';
import type { GatehouseServices } from '../../services.js';

export const wellKnownRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const { issuer } = services.config;

  // RFC 8414 §2: only what the server really does.
  app.get('/.well-known/oauth-authorization-server', { config: { auth: PUBLIC }, schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=3600');
    return {
      issuer,
      token_endpoint: `${issuer}/auth/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      grant_types_supported: [...SUPPORTED_GRANTS, MFA_GRANT],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
      revocation_endpoint: `${issuer}/auth/revoke`,
      revocation_endpoint_auth_methods_supported: ['none'],
      scopes_supported: services.scopes.supported,
      service_documentation: `${issuer}/docs`,
    };
  });

  app.get('/.well-known/jwks.json', { config: { auth: PUBLIC }, schema: { hide: true } }, async (_request, reply) => {
    // Verifiers cache it this long, so stored keys are published this long before they sign.
    reply.header('cache-control', `public, max-age=${services.config.jwksMaxAgeSeconds}`);
    reply.type('application/jwk-set+json');
    return services.keySet().publicJwks;
  });
};
