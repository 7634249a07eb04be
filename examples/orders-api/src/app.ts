import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { gatehouse, guardResource, principalOf, PUBLIC, sendGatehouseError, type GatehouseOptions, type ScopeDefinition } from 'gatehouse';
import { CUSTOMER, MANAGER, readOrder, refundOrder } from './order-policies.js';
import { OrderBook, type Order } from './orders.js';

/** The permissions this service adds to Gatehouse, and which tenant roles hold them. */
export const ORDER_SCOPES: Readonly<Record<string, ScopeDefinition>> = {
  'orders:read': { description: 'Read orders of your tenant (your own, or all as a manager)', tenantRoles: [CUSTOMER, MANAGER] },
  'orders:write': { description: 'Place orders in your tenant', tenantRoles: [CUSTOMER, MANAGER] },
  'orders:refund': { description: 'Refund orders of your tenant', tenantRoles: [MANAGER] },
};

/**
 * This service's resource identifier (RFC 8707): tokens asked for with `resource=<it>` carry it in
 * `aud`, and only those open the orders routes. Gatehouse's own endpoints under /identity keep
 * accepting Gatehouse's own audience only, so an orders token is no good there either.
 */
export const ORDERS_RESOURCE = 'urn:example:orders-api';

const orderView = (o: Order) => ({ id: o.id, tenant_id: o.tenantId, owner_id: o.ownerId, item: o.item, quantity: o.quantity, refunded: o.refunded });
const idParams = z.object({ id: z.string().max(64) });

/**
 * A small orders API that mounts Gatehouse under /identity and declares, per route, what a caller
 * needs: a scope, a role, ownership of the order, the tenant boundary.
 */
export async function buildOrdersApi(
  options: { gatehouse?: Omit<GatehouseOptions, 'scopes' | 'audience'>; orders?: OrderBook; resource?: string } = {},
): Promise<FastifyInstance> {
  const resource = options.resource ?? ORDERS_RESOURCE;
  const orders = options.orders ?? new OrderBook();
  const app = Fastify({ logger: false }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // One error shape for the whole service: RFC 9457 problems with Gatehouse's stable codes.
  app.setErrorHandler((error, request, reply) => sendGatehouseError(request, reply, error));
  await app.register(gatehouse, {
    prefix: '/identity',
    ...options.gatehouse,
    scopes: ORDER_SCOPES,
    // Registered here, beside any other resource the deployment has (such as an inventory service).
    resources: [{ identifier: resource, scopes: Object.keys(ORDER_SCOPES), description: 'the orders API' }, ...(options.gatehouse?.resources ?? [])],
    audience: resource,
  });

  // Loaded once by the guard, after validation, and handed to the policy; the handler reads it back.
  const load = async (request: { params: unknown }) => orders.find((request.params as { id: string }).id);
  const readable = guardResource(readOrder, load);
  const refundable = guardResource(refundOrder, load);

  app.get('/health', { config: { auth: PUBLIC } }, async () => ({ status: 'ok' }));

  app.get('/orders', { config: { auth: { scopes: ['orders:read'], tenant: true } } }, async (request) => {
    const principal = principalOf(request);
    const own = principal.roles.includes(MANAGER) ? undefined : principal.subject;
    return { orders: orders.list(principal.tenantId!, own).map(orderView) };
  });

  app.post(
    '/orders',
    {
      config: { auth: { scopes: ['orders:write'], tenant: true } },
      schema: { body: z.object({ item: z.string().min(1).max(200), quantity: z.number().int().min(1).max(1000) }).strict() },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      const order = orders.place({ tenantId: principal.tenantId!, ownerId: principal.subject, ...request.body });
      return reply.code(201).send(orderView(order));
    },
  );

  app.get('/orders/:id', { config: { auth: { scopes: ['orders:read'], resource: readable } }, schema: { params: idParams } }, async (request) =>
    orderView(readable.of(request)),
  );

  app.post(
    '/orders/:id/refund',
    // Money moves: the manager role is checked against the database now, not as the token remembers it.
    { config: { auth: { scopes: ['orders:refund'], roles: [MANAGER], fresh: true, resource: refundable } }, schema: { params: idParams } },
    async (request) => orderView(orders.refund(refundable.of(request).id)!),
  );

  return app;
}
