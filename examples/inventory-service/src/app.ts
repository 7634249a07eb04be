import { Hono } from 'hono';
import { createVerifier, type Verifier, type VerifierOptions } from '@gatehouse/verify';
import { gatehouse, type GatehouseEnv } from '@gatehouse/verify/hono';

export interface InventoryOptions {
  /** Gatehouse's issuer (GATEHOUSE_ISSUER). */
  readonly issuer: string;
  /**
   * This service's resource identifier, registered with Gatehouse (GATEHOUSE_RESOURCES): only
   * tokens asked for with `resource=<it>` open it (RFC 8707). Add GATEHOUSE_AUDIENCE to the list to
   * accept Gatehouse's default-audience tokens as well.
   */
  readonly audience: string | readonly string[];
  /** Gatehouse's `/.well-known/jwks.json`: the only thing this service needs from it. */
  readonly jwksUri: string;
  readonly jwksCache?: VerifierOptions['jwksCache'];
  /** Clock in epoch ms (tests move time instead of waiting). */
  readonly now?: VerifierOptions['now'];
}

interface Item {
  readonly id: number;
  readonly name: string;
  readonly owner: string;
}

/**
 * A second service that trusts Gatehouse without calling it per request: tokens are verified
 * locally against Gatehouse's published keys. Reading needs the `profile` scope; adding items
 * needs the `admin` role.
 */
export function createInventoryApp(options: InventoryOptions): { app: Hono<GatehouseEnv>; verifier: Verifier } {
  const verifier = createVerifier({
    issuer: options.issuer,
    audience: options.audience,
    jwksUri: options.jwksUri,
    ...(options.jwksCache === undefined ? {} : { jwksCache: options.jwksCache }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const items: Item[] = [{ id: 1, name: 'bolts (M6)', owner: 'warehouse' }];
  const app = new Hono<GatehouseEnv>();

  app.get('/healthz', (c) => c.json({ ok: true }));
  app.get('/items', gatehouse(verifier, { scopes: ['profile'] }), (c) => c.json({ caller: c.get('gatehouse').subject, items }));
  app.post('/items', gatehouse(verifier, { scopes: ['profile'], roles: ['admin'] }), async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    const name = typeof body === 'object' && body !== null ? (body as { name?: unknown }).name : undefined;
    if (typeof name !== 'string' || name.length === 0 || name.length > 200) return c.json({ error: 'name required' }, 400);
    const item = { id: items.length + 1, name, owner: c.get('gatehouse').subject };
    items.push(item);
    return c.json(item, 201);
  });
  return { app, verifier };
}
