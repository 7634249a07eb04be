import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { GatehouseServices } from '../../services.js';
import { addMember, changeMemberRole, createTenant, findTenant, removeMember } from '../../tenants/tenant-admin.js';
import type { MembershipRecord, TenantRecord } from '../../tenants/tenant.js';
import { adminActorOf, logAdminAction } from '../admin-actor.js';
import { problemSchema } from './problem-schema.js';

const tenantSchema = z.object({ id: z.string(), slug: z.string(), name: z.string(), created_at: z.string() });
const membershipSchema = z.object({ tenant_id: z.string(), user_id: z.string(), roles: z.array(z.string()), created_at: z.string() });

const tenantView = (t: TenantRecord): z.infer<typeof tenantSchema> => ({ id: t.id, slug: t.slug, name: t.name, created_at: t.createdAt.toISOString() });
const membershipView = (m: MembershipRecord): z.infer<typeof membershipSchema> => ({
  tenant_id: m.tenantId,
  user_id: m.userId,
  roles: [...m.roles],
  created_at: m.createdAt.toISOString(),
});

const TENANTS = { auth: { scopes: ['admin:tenants'], fresh: true } };
const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };
const tenantParams = z.object({ tenant: z.string().max(64) });
const memberParams = z.object({ tenant: z.string().max(64), user: z.string().max(64) });

/** Tenants and memberships (scope `admin:tenants`); every change is audited with actor and target. */
export const tenantAdminRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = { tenants: services.tenants, revocations: services.revocations, scopes: services.scopes, now: services.now };

  app.post(
    '/admin/tenants',
    {
      config: TENANTS,
      schema: {
        tags: ['admin'],
        summary: 'Create a tenant',
        body: z.object({ slug: z.string().max(64), name: z.string().max(200).optional() }).strict(),
        response: { 201: tenantSchema, 409: problemSchema, ...errors },
      },
    },
    async (request, reply) => {
      const tenant = await createTenant(deps, adminActorOf(request), request.body);
      logAdminAction(request, 'tenant_created', tenant.id);
      return reply.code(201).send(tenantView(tenant));
    },
  );

  app.get(
    '/admin/tenants',
    {
      config: TENANTS,
      schema: {
        tags: ['admin'],
        summary: 'List tenants, ordered by slug',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), after: z.string().max(64).optional() }).strict(),
        response: { 200: z.object({ tenants: z.array(tenantSchema), next_after: z.string().nullable() }), ...errors },
      },
    },
    async (request) => {
      const { limit, after } = request.query;
      const tenants = await services.tenants.list({ limit, ...(after === undefined ? {} : { after }) });
      return { tenants: tenants.map(tenantView), next_after: tenants.length === limit ? (tenants.at(-1)?.slug ?? null) : null };
    },
  );

  app.get(
    '/admin/tenants/:tenant/members',
    {
      config: TENANTS,
      schema: {
        tags: ['admin'],
        summary: 'Members of a tenant (by id or slug) and their roles there',
        params: tenantParams,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(200).default(50), after: z.string().max(64).optional() }).strict(),
        response: { 200: z.object({ tenant: tenantSchema, members: z.array(membershipSchema), next_after: z.string().nullable() }), ...errors },
      },
    },
    async (request) => {
      const tenant = await findTenant(deps, request.params.tenant);
      const { limit, after } = request.query;
      const members = await services.tenants.members(tenant.id, { limit, ...(after === undefined ? {} : { after }) });
      return {
        tenant: tenantView(tenant),
        members: members.map(membershipView),
        next_after: members.length === limit ? (members.at(-1)?.userId ?? null) : null,
      };
    },
  );

  app.put(
    '/admin/tenants/:tenant/members/:user',
    {
      config: TENANTS,
      schema: {
        tags: ['admin'],
        summary: 'Add a user to a tenant (no roles yet); idempotent',
        params: memberParams,
        response: { 200: membershipSchema, ...errors },
      },
    },
    async (request) => {
      const membership = await addMember(deps, adminActorOf(request), request.params.tenant, request.params.user);
      logAdminAction(request, 'membership_added', membership.userId);
      return membershipView(membership);
    },
  );

  app.delete(
    '/admin/tenants/:tenant/members/:user',
    {
      config: TENANTS,
      schema: {
        tags: ['admin'],
        summary: "Remove a user from a tenant; the user's live tokens die",
        params: memberParams,
        response: { 204: z.void(), ...errors },
      },
    },
    async (request, reply) => {
      await removeMember(deps, adminActorOf(request), request.params.tenant, request.params.user);
      logAdminAction(request, 'membership_removed', request.params.user);
      return reply.code(204).send();
    },
  );

  app.post(
    '/admin/tenants/:tenant/members/:user/roles',
    {
      config: TENANTS,
      schema: {
        tags: ['admin'],
        summary: 'Grant a role in this tenant',
        params: memberParams,
        body: z.object({ role: z.string().max(64) }).strict(),
        response: { 200: membershipSchema, ...errors },
      },
    },
    async (request) => {
      const membership = await changeMemberRole(deps, adminActorOf(request), request.params.tenant, request.params.user, request.body.role, true);
      logAdminAction(request, 'tenant_role_granted', membership.userId);
      return membershipView(membership);
    },
  );

  app.delete(
    '/admin/tenants/:tenant/members/:user/roles/:role',
    {
      config: TENANTS,
      schema: {
        tags: ['admin'],
        summary: "Revoke a role in this tenant; the user's live tokens die (token version)",
        params: memberParams.extend({ role: z.string().max(64) }),
        response: { 200: membershipSchema, ...errors },
      },
    },
    async (request) => {
      const membership = await changeMemberRole(deps, adminActorOf(request), request.params.tenant, request.params.user, request.params.role, false);
      logAdminAction(request, 'tenant_role_revoked', membership.userId);
      return membershipView(membership);
    },
  );
};
