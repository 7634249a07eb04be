import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { PUBLIC, type SecretScheme } from '../guard/requirement.js';
import type { ScopeCatalogue } from '../oauth/scope-catalogue.js';

export const SECURITY_SCHEME = 'oauth2';

/** The OpenAPI security scheme of each machine secret (`config.auth: { secret }`). */
export const SECRET_SECURITY_SCHEMES: Readonly<Record<SecretScheme, string>> = { 'revocation-feed': 'revocationFeedSecret' };

/**
 * OpenAPI 3.1 generated from the zod route schemas, with an OAuth 2 password-flow scheme so
 * Swagger's Authorize button gets a token from /auth/token.
 */
export async function registerOpenApi(app: FastifyInstance, options: { issuer: string; scopes: ScopeCatalogue; version: string }): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse',
        version: options.version,
        description: 'Authentication and authorization service. Authorize with a username and password (client_id may stay empty).',
      },
      servers: [{ url: options.issuer }],
      components: {
        securitySchemes: {
          [SECURITY_SCHEME]: {
            type: 'oauth2',
            flows: { password: { tokenUrl: `${options.issuer}/auth/token`, scopes: { ...options.scopes.descriptions } } },
          },
          [SECRET_SECURITY_SCHEMES['revocation-feed']]: {
            type: 'http',
            scheme: 'bearer',
            description: 'One of GATEHOUSE_REVOCATION_FEED_SECRETS (resource servers catching up on revocations).',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(async (docs) => {
    // Everything this scope registers (the UI and its assets) is public by declaration.
    docs.decorate('gatehouseScopeRequirement', { getter: () => PUBLIC });
    await docs.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: false } });
  });
}
