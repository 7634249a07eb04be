import { randomUUID } from 'node:crypto';
import type { TenantOwned, UserOwned } from 'gatehouse';

/** An order belongs to one tenant and was placed by one user of it. */
export interface Order extends TenantOwned, UserOwned {
  readonly id: string;
  readonly item: string;
  readonly quantity: number;
  readonly refunded: boolean;
  readonly createdAt: Date;
}

/**
 * The example's storage: a Map, so the example runs with nothing to set up. A real service would
 * keep orders in its own database; nothing else in the example depends on where they live.
 */
export class OrderBook {
  readonly #orders = new Map<string, Order>();

  place(input: { tenantId: string; ownerId: string; item: string; quantity: number }): Order {
    const order: Order = Object.freeze({ id: randomUUID(), ...input, refunded: false, createdAt: new Date() });
    this.#orders.set(order.id, order);
    return order;
  }

  find(id: string): Order | undefined {
    return this.#orders.get(id);
  }

  /** Orders of one tenant, newest first; only the owner's unless `ownerId` is undefined. */
  list(tenantId: string, ownerId: string | undefined): Order[] {
    return [...this.#orders.values()]
      .filter((o) => o.tenantId === tenantId && (ownerId === undefined || o.ownerId === ownerId))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }

  refund(id: string): Order | undefined {
    const order = this.#orders.get(id);
    if (order === undefined) return undefined;
    const refunded = Object.freeze({ ...order, refunded: true });
    this.#orders.set(id, refunded);
    return refunded;
  }
}
