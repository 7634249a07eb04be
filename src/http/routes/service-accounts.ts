import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  createServiceAccount,
  createServiceAccountKey,
  deleteServiceAccount,
  disableServiceAccount,
  listServiceAccountKeys,
  listServiceAccounts,
  revokeServiceAccountKey,
  serviceAccountDeps,
} from '../../admin/service-accounts.js';
import { serviceAccountJson } from '../../admin/service-account-json.js';
import type { GatehouseServices } from '../../services.js';
import { adminActorOf, logAdminAction } from '../admin-actor.js';
import { createdOf, createdView, keyId, keyView, newKeyBody, newKeyInput, viewOf } from './api-keys.js';
import { problemSchema } from './problem-schema.js';

const accountSchema = z.object({
  id: z.string().describe('the account id: also its client_id for the client-credentials grant'),
  name: z.string(),
  roles: z.array(z.string()).describe('global roles'),
  tenants: z.array(z.object({ id: z.string(), slug: z.string(), roles: z.array(z.string()) })),
  created_at: z.iso.datetime(),
  disabled_at: z.iso.datetime().nullable(),
});

/** Service-account names are checked as usernames (and share their namespace); `id` is any string so a bad one is a 404. */
const idParams = z.object({ id: z.string().max(64) });
const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };
// As for /admin/users: decided on the roles the database holds now, not on what the token remembers.
const ADMIN = { auth: { scopes: ['admin:users'], fresh: true } };

/** `/admin/service-accounts`: machine principals and their API keys, for admins only (src/admin/service-accounts.ts). */
export const serviceAccountRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = serviceAccountDeps(services);

  app.post(
    '/admin/service-accounts',
    {
      config: ADMIN,
      schema: {
        tags: ['admin'],
        summary: 'Create a service account: no password, no sign-in; it authenticates with its API keys only',
        body: z.strictObject({
          name: z.string().max(256),
          roles: z.array(z.string().max(64)).max(20).default([]),
          tenant: z.uuid().optional().describe('with a tenant, `roles` are its roles there and it has no global role'),
        }),
        response: { 201: accountSchema, ...errors, 409: problemSchema },
      },
    },
    async (request, reply) => {
      const { name, roles, tenant } = request.body;
      const created = await createServiceAccount(deps, adminActorOf(request), { name, roles, tenantId: tenant });
      logAdminAction(request, 'service_account_created', created.account.id);
      return reply.code(201).send(serviceAccountJson(created));
    },
  );

  app.get(
    '/admin/service-accounts',
    {
      config: ADMIN,
      schema: {
        tags: ['admin'],
        summary: 'List service accounts, ordered by name',
        querystring: z.strictObject({ limit: z.coerce.number().int().min(1).max(200).default(50), after: z.string().max(256).optional() }),
        response: { 200: z.object({ service_accounts: z.array(accountSchema), next_after: z.string().nullable() }), ...errors },
      },
    },
    async (request) => {
      const { limit, after } = request.query;
      const page = await listServiceAccounts(deps, { limit, ...(after === undefined ? {} : { after }) });
      return { service_accounts: page.accounts.map(serviceAccountJson), next_after: page.nextAfter };
    },
  );

  app.post(
    '/admin/service-accounts/:id/disable',
    {
      config: ADMIN,
      schema: {
        tags: ['admin'],
        summary: 'Disable: every key of the account is refused at once, on every instance',
        params: idParams,
        response: { 200: accountSchema, ...errors },
      },
    },
    async (request) => {
      const disabled = await disableServiceAccount(deps, adminActorOf(request), request.params.id);
      logAdminAction(request, 'service_account_disabled', disabled.account.id);
      return serviceAccountJson(disabled);
    },
  );

  app.delete(
    '/admin/service-accounts/:id',
    { config: ADMIN, schema: { tags: ['admin'], summary: 'Delete the account and its keys', params: idParams, response: { 204: z.void(), ...errors } } },
    async (request, reply) => {
      await deleteServiceAccount(deps, adminActorOf(request), request.params.id);
      logAdminAction(request, 'service_account_deleted', request.params.id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/admin/service-accounts/:id/keys',
    {
      config: ADMIN,
      schema: {
        tags: ['admin'],
        summary: "Create a key of the account (shown once); its scopes must be ones the account holds; it is also the account's client secret",
        params: idParams,
        body: newKeyBody,
        response: { 201: createdView, ...errors },
      },
    },
    async (request, reply) => {
      const created = await createServiceAccountKey(deps, adminActorOf(request), request.params.id, newKeyInput(request.body));
      logAdminAction(request, 'service_account_key_created', request.params.id);
      return reply.code(201).header('cache-control', 'no-store').send(createdOf(created));
    },
  );

  app.get(
    '/admin/service-accounts/:id/keys',
    {
      config: ADMIN,
      schema: { tags: ['admin'], summary: "The account's keys (never the key itself)", params: idParams, response: { 200: z.array(keyView), ...errors } },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return (await listServiceAccountKeys(deps, request.params.id)).map(viewOf);
    },
  );

  app.delete(
    '/admin/service-accounts/:id/keys/:keyId',
    {
      config: ADMIN,
      schema: {
        tags: ['admin'],
        summary: 'Revoke a key of the account: refused on every instance within a second',
        params: idParams.extend({ keyId: keyId.shape.id }),
        response: { 204: z.void(), ...errors },
      },
    },
    async (request, reply) => {
      await revokeServiceAccountKey(deps, adminActorOf(request), request.params.id, request.params.keyId);
      logAdminAction(request, 'service_account_key_revoked', request.params.id);
      return reply.code(204).send();
    },
  );
};
