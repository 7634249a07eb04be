import { sessionCookieName } from '../sessions/cookie-names.js';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { completeResponses, errorComponents, type OperationFacts } from './openapi-responses.js';
import { PUBLIC, type SecretScheme } from '../guard/requirement.js';
import type { ScopeCatalogue } from '../oauth/scope-catalogue.js';

export const SECURITY_SCHEME = 'oauth2';

/** The browser's session cookie (`schemes: ['session']`). */
export const SESSION_SECURITY_SCHEME = 'sessionCookie';
export const API_KEY_SECURITY_SCHEME = 'apiKey';

/** The OpenAPI security scheme of each machine secret (`config.auth: { secret }`). */
export const SECRET_SECURITY_SCHEMES: Readonly<Record<SecretScheme, string>> = { 'revocation-feed': 'revocationFeedSecret' };

/**
 * OpenAPI 3.1 generated from the zod route schemas, with an OAuth 2 password-flow scheme so
 * Swagger's Authorize button gets a token from /auth/token.
 */
export async function registerOpenApi(app: FastifyInstance, options: { issuer: string; scopes: ScopeCatalogue; version: string }): Promise<void> {
  // What each route declares, seen by `transform`, applied to the finished document by `transformObject`.
  const facts = new Map<string, OperationFacts>();
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
          [SESSION_SECURITY_SCHEME]: {
            type: 'apiKey',
            in: 'cookie',
            name: sessionCookieName(options.issuer),
            description: 'The browser session set by `POST /auth/session`; unsafe methods also pass the cross-site request checks.',
          },
          [API_KEY_SECURITY_SCHEME]: {
            type: 'apiKey',
            in: 'header',
            name: 'X-API-Key',
            description: 'An API key (`ghk_…`) from `POST /me/api-keys`; also accepted as `Authorization: Bearer ghk_…`, never both at once.',
          },
          [SECRET_SECURITY_SCHEMES['revocation-feed']]: {
            type: 'http',
            scheme: 'bearer',
            description: 'One of GATEHOUSE_REVOCATION_FEED_SECRETS (resource servers catching up on revocations).',
          },
        },
      },
    },
    transform: (input) => {
      const { route, url } = input;
      const config = route.config as { auth?: OperationFacts['requirement']; errorStyle?: OperationFacts['errorStyle'] } | undefined;
      for (const method of [route.method].flat()) {
        const takesBody = !['GET', 'HEAD'].includes(method.toUpperCase());
        facts.set(operationKey(method, url), {
          requirement: config?.auth,
          errorStyle: config?.errorStyle ?? 'problem',
          takesBody,
          hasPathParams: url.includes(':'),
        });
      }
      return jsonSchemaTransform(input);
    },
    transformObject: (input) => {
      // Only the OpenAPI 3 variant is configured above; the document is completed in place.
      if (!('openapiObject' in input)) return input.swaggerObject;
      completeDocument(input.openapiObject as OpenApiDocument, facts);
      return input.openapiObject;
    },
  });
  await app.register(async (docs) => {
    // Everything this scope registers (the UI and its assets) is public by declaration.
    docs.decorate('gatehouseScopeRequirement', { getter: () => PUBLIC });
    await docs.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: false } });
  });
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, { responses?: Record<string, Record<string, unknown>> }>>;
  components?: { headers?: Record<string, unknown> } & Record<string, unknown>;
}

function completeDocument(document: OpenApiDocument, facts: ReadonlyMap<string, OperationFacts>): void {
  for (const [path, operations] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(operations)) {
      const known = facts.get(operationKey(method, path));
      if (known !== undefined) operation.responses = completeResponses(operation.responses ?? {}, known);
    }
  }
  document.components = { ...document.components, headers: { ...document.components?.headers, ...errorComponents().headers } };
}

/** `GET /admin/users/{id}` for both Fastify's `/admin/users/:id` and the document's path. */
function operationKey(method: string, url: string): string {
  return `${method.toUpperCase()} ${url.replace(/:(\w+)/g, '{$1}')}`;
}
