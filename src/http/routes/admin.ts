import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { changeUserRole, changeUserStatus, deleteUser, forceLogout, listUsers, readUser, type StatusChange } from '../../admin/user-admin.js';
import type { AuditEventType } from '../../audit/audit-event.js';
import { resetSecondFactors } from '../../factors/factors.js';
import type { GatehouseServices } from '../../services.js';
import type { UserRecord } from '../../users/user-store.js';
import { adminActorOf, logAdminAction } from '../admin-actor.js';
import { auditEventSchema, auditEventView, nextBefore } from './audit-view.js';
import { principalUserOf } from '../../guard/principal.js';
import { problemSchema } from './problem-schema.js';
import { userView, userViewSchema } from './user-view.js';

const adminUserSchema = userViewSchema.extend({
  roles: z.array(z.string()),
  disabled_at: z.string().nullable(),
  locked_at: z.string().nullable(),
});

function adminUserView(user: UserRecord): z.infer<typeof adminUserSchema> {
  return {
    ...userView(principalUserOf(user)),
    roles: [...user.roles],
    disabled_at: user.disabledAt?.toISOString() ?? null,
    locked_at: user.lockedAt?.toISOString() ?? null,
  };
}

const idParams = z.object({ id: z.string().max(64) });
/**
 * PostgreSQL's timestamps have no year 0 and JavaScript writes years past 9999 with a sign, which
 * PostgreSQL does not read: either would be a failed query (a false 503), so the instant, in UTC,
 * must fall in the years 0001–9999.
 */
const FIRST_INSTANT = Date.parse('0001-01-01T00:00:00Z');
const LAST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');
const auditInstant = z.iso.datetime({ offset: true }).refine((value) => {
  const instant = Date.parse(value);
  return instant >= FIRST_INSTANT && instant <= LAST_INSTANT;
}, 'must be an instant in the years 0001-9999 (UTC)');
const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };
// Admin routes decide on the roles the database holds now (fresh), not on what the token remembers:
// an admin demoted a moment ago on another instance is refused here before the revocation spreads.
const USERS = { auth: { scopes: ['admin:users'], fresh: true } };

/**
 * The admin API: every route needs an `admin:*` scope (held through the `admin` role), and every
 * change is audited with the acting admin and the target. The first admin comes from the CLI.
 */
export const adminRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = { directory: services.userDirectory, users: services.users, revocations: services.revocations, scopes: services.scopes, now: services.now };

  app.get(
    '/admin/users',
    {
      config: USERS,
      schema: {
        tags: ['admin'],
        summary: 'List or search accounts (by the start of the username or email), ordered by username',
        querystring: z
          .object({ search: z.string().max(256).optional(), limit: z.coerce.number().int().min(1).max(200).default(50), after: z.string().max(256).optional() })
          .strict(),
        response: { 200: z.object({ users: z.array(adminUserSchema), next_after: z.string().nullable() }), ...errors },
      },
    },
    async (request) => {
      const { search, limit, after } = request.query;
      const users = await listUsers(deps, { limit, ...(search === undefined ? {} : { search }), ...(after === undefined ? {} : { after }) });
      return { users: users.map(adminUserView), next_after: users.length === limit ? (users.at(-1)?.usernameKey ?? null) : null };
    },
  );

  app.get(
    '/admin/users/:id',
    { config: USERS, schema: { tags: ['admin'], summary: 'One account', params: idParams, response: { 200: adminUserSchema, ...errors } } },
    async (request) => adminUserView(await readUser(deps, request.params.id)),
  );

  for (const change of ['disable', 'enable', 'lock', 'unlock'] as const satisfies readonly StatusChange[]) {
    app.post(
      `/admin/users/:id/${change}`,
      {
        config: USERS,
        schema: {
          tags: ['admin'],
          summary:
            change === 'disable' || change === 'lock'
              ? `${change[0]!.toUpperCase()}${change.slice(1)} the account: no login, no refresh, every token dies`
              : `Lift the ${change === 'enable' ? 'disable' : 'lock'} (tokens revoked before stay revoked)`,
          params: idParams,
          response: { 200: adminUserSchema, ...errors },
        },
      },
      async (request) => {
        const user = await changeUserStatus(deps, adminActorOf(request), request.params.id, change);
        logAdminAction(request, change, user.id);
        return adminUserView(user);
      },
    );
  }

  app.post(
    '/admin/users/:id/logout',
    { config: USERS, schema: { tags: ['admin'], summary: 'Log the user out everywhere', params: idParams, response: { 204: z.void(), ...errors } } },
    async (request, reply) => {
      await forceLogout(deps, adminActorOf(request), request.params.id);
      logAdminAction(request, 'logout', request.params.id);
      return reply.code(204).send();
    },
  );

  app.delete(
    '/admin/users/:id/factors',
    {
      config: USERS,
      schema: {
        tags: ['admin'],
        summary: 'Remove every TOTP factor and recovery code of the account (a lost authenticator); its passkeys stay',
        params: idParams,
        response: { 204: z.void(), ...errors },
      },
    },
    async (request, reply) => {
      const user = await readUser(deps, request.params.id);
      await resetSecondFactors(services.factors, adminActorOf(request), user.id);
      logAdminAction(request, 'factors_reset', user.id);
      return reply.code(204).send();
    },
  );

  app.post(
    '/admin/users/:id/roles',
    {
      config: USERS,
      schema: {
        tags: ['admin'],
        summary: 'Grant a role',
        params: idParams,
        body: z.object({ role: z.string().max(64) }).strict(),
        response: { 200: adminUserSchema, ...errors },
      },
    },
    async (request) => {
      const user = await changeUserRole(deps, adminActorOf(request), request.params.id, request.body.role, true);
      logAdminAction(request, 'role_granted', user.id);
      return adminUserView(user);
    },
  );

  app.delete(
    '/admin/users/:id/roles/:role',
    {
      config: USERS,
      schema: {
        tags: ['admin'],
        summary: "Revoke a role; the user's live tokens die (token version)",
        params: z.object({ id: z.string().max(64), role: z.string().max(64) }),
        response: { 200: adminUserSchema, ...errors },
      },
    },
    async (request) => {
      const user = await changeUserRole(deps, adminActorOf(request), request.params.id, request.params.role, false);
      logAdminAction(request, 'role_revoked', user.id);
      return adminUserView(user);
    },
  );

  app.delete(
    '/admin/users/:id',
    { config: USERS, schema: { tags: ['admin'], summary: 'Delete the account; its tokens die', params: idParams, response: { 204: z.void(), ...errors } } },
    async (request, reply) => {
      await deleteUser(deps, adminActorOf(request), request.params.id);
      logAdminAction(request, 'delete', request.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/admin/audit',
    {
      config: { auth: { scopes: ['admin:audit'], fresh: true } },
      schema: {
        tags: ['admin'],
        summary: 'The audit trail, newest first; filter by user, event type and time',
        querystring: z
          .object({
            user: z.uuid().optional(),
            event: z.string().max(64).optional(),
            since: auditInstant.optional(),
            until: auditInstant.optional(),
            before: z.coerce.number().int().positive().optional(),
            limit: z.coerce.number().int().min(1).max(200).default(50),
          })
          .strict(),
        response: { 200: z.object({ events: z.array(auditEventSchema), next_before: z.number().int().nullable() }), ...errors },
      },
    },
    async (request, reply) => {
      const q = request.query;
      const rows = await services.audit.list({
        limit: q.limit,
        ...(q.user === undefined ? {} : { subjectId: q.user }),
        ...(q.event === undefined ? {} : { event: q.event as AuditEventType }),
        ...(q.since === undefined ? {} : { since: new Date(q.since) }),
        ...(q.until === undefined ? {} : { until: new Date(q.until) }),
        ...(q.before === undefined ? {} : { beforeId: q.before }),
      });
      reply.header('cache-control', 'no-store');
      return {
        events: rows.map(auditEventView),
        next_before: nextBefore(rows, q.limit),
      };
    },
  );
};
