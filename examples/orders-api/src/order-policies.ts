import { allOf, anyOf, holdsRole, ownedByCaller, sameTenant, type Policy } from 'gatehouse';
import type { Order } from './orders.js';

/** Tenant roles of this service; `manager` sees and refunds every order of its tenant. */
export const MANAGER = 'manager';
export const CUSTOMER = 'customer';

/** Read an order: it is in the caller's tenant, and the caller placed it or manages the tenant. */
export const readOrder: Policy<Order> = allOf('read-order', sameTenant, anyOf('owner-or-manager', ownedByCaller, holdsRole(MANAGER)));

/** Refund an order: it is in the caller's tenant (the route also asks for the manager role, freshly read). */
export const refundOrder: Policy<Order> = allOf('refund-order', sameTenant, holdsRole(MANAGER));
