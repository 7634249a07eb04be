import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_ROTATION_OVERLAP_SECONDS, type ApiKeyView, type CreateApiKeyInput, type CreatedApiKey } from '../../apikeys/api-keys.js';
import { apiKeyJson, createdApiKeyJson } from '../../apikeys/api-key-json.js';
import { SCOPE_TOKEN } from '../../oauth/scope-catalogue.js';
import type { GatehouseServices } from '../../services.js';
import { auditContextOf } from '../audit-context.js';
import { problemSchema } from './problem-schema.js';

export const keyView = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  tenant: z.string().nullable(),
  created_at: z.iso.datetime(),
  expires_at: z.iso.datetime().nullable(),
  revoked_at: z.iso.datetime().nullable(),
  last_used_at: z.iso.datetime().nullable(),
});
export const createdView = keyView.extend({ key: z.string().describe('the API key: shown this once, never again') });

export const viewOf = (k: ApiKeyView): z.infer<typeof keyView> => apiKeyJson(k);
export const createdOf = (c: CreatedApiKey): z.infer<typeof createdView> => createdApiKeyJson(c);

/** What a new key is asked with, here and for a service account's key. */
export const newKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  scopes: z.array(z.string().regex(SCOPE_TOKEN)).min(1).max(50),
  tenant: z.uuid().optional(),
  expires_in: z
    .number()
    .int()
    .min(60)
    .max(5 * 365 * 86_400)
    .optional(),
});
export const newKeyInput = (body: z.infer<typeof newKeyBody>): CreateApiKeyInput => ({
  name: body.name,
  scopes: body.scopes,
  tenantId: body.tenant,
  expiresInSeconds: body.expires_in,
});

export const keyId = z.object({ id: z.string().regex(/^[0-9A-Za-z]{17}$/, 'not an api key id') });

// Managing keys needs an access token (never an API key: a leaked key must not mint more) and,
// for creation, the account as the database holds it now (`fresh`).
export const apiKeyRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  app.post(
    '/me/api-keys',
    {
      config: { auth: { scopes: ['profile'], fresh: true } },
      schema: {
        tags: ['me'],
        summary: 'Create an API key (shown once); its scopes must be ones you hold',
        body: newKeyBody,
        response: { 201: createdView, 400: problemSchema, 401: problemSchema, 403: problemSchema },
      },
    },
    async (request, reply) => {
      const created = await services.apiKeys.create(request.principal!.subject, newKeyInput(request.body), auditContextOf(request));
      return reply.code(201).header('cache-control', 'no-store').send(createdOf(created));
    },
  );

  app.get(
    '/me/api-keys',
    {
      config: { auth: { scopes: ['profile'] } },
      schema: { tags: ['me'], summary: 'Your API keys (never the key itself)', response: { 200: z.array(keyView), 401: problemSchema, 403: problemSchema } },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return (await services.apiKeys.list(request.principal!.subject)).map(viewOf);
    },
  );

  app.delete(
    '/me/api-keys/:id',
    {
      config: { auth: { scopes: ['profile'] } },
      schema: {
        tags: ['me'],
        summary: 'Revoke one of your API keys: refused on every instance within a second',
        params: keyId,
        response: { 204: z.void(), 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema },
      },
    },
    async (request, reply) => {
      await services.apiKeys.revoke(request.principal!.subject, request.params.id, auditContextOf(request));
      return reply.code(204).send();
    },
  );

  app.post(
    '/me/api-keys/:id/rotate',
    {
      config: { auth: { scopes: ['profile'] } },
      schema: {
        tags: ['me'],
        summary: 'A new key with the same name and scopes; the old one keeps working for overlap_seconds, then dies',
        params: keyId,
        body: z.strictObject({ overlap_seconds: z.number().int().min(0).max(MAX_ROTATION_OVERLAP_SECONDS) }),
        response: { 201: createdView, 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema },
      },
    },
    async (request, reply) => {
      const created = await services.apiKeys.rotate(request.principal!.subject, request.params.id, request.body.overlap_seconds, auditContextOf(request));
      return reply.code(201).header('cache-control', 'no-store').send(createdOf(created));
    },
  );
};
