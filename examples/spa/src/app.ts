import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import { AUTHENTICATED, gatehouse, principalOf, PUBLIC, sendGatehouseError, type GatehouseOptions, type OAuthClient } from 'gatehouse';

/** The SPA's OAuth client: first party, its refresh token in the HttpOnly cookie. */
export const SPA_CLIENT: OAuthClient = { id: 'spa', firstParty: true, grantTypes: ['password', 'refresh_token'], refreshTokenCookie: true };

const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'public');
// The client's compiled ESM (npm run build), served as is: the page has no build step.
const CLIENT_DIST = path.join(path.dirname(fileURLToPath(import.meta.resolve('@gatehouse/client/package.json'))), 'dist');
const CLIENT_FILE = /^[a-z-]+\.js$/;

const sendFile = async (reply: { type(t: string): unknown; send(b: Buffer): unknown }, file: string, type: string) => {
  reply.type(type);
  return reply.send(await readFile(file));
};

/**
 * A single-page app and its API on one origin, Gatehouse mounted under /identity: the page signs
 * in with @gatehouse/client in cookie mode (the refresh token where no script can read it, the
 * access token in memory) and calls `GET /api/notes` through the client's fetch wrapper.
 */
export async function buildSpa(
  options: { gatehouse?: GatehouseOptions; /** More API routes (the tests add one). */ routes?: (app: FastifyInstance) => void } = {},
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.setErrorHandler((error, request, reply) => sendGatehouseError(request, reply, error));
  await app.register(gatehouse, { prefix: '/identity', clients: [SPA_CLIENT], ...options.gatehouse });

  app.get('/', { config: { auth: PUBLIC } }, async (_request, reply) => sendFile(reply, path.join(PUBLIC_DIR, 'index.html'), 'text/html; charset=utf-8'));
  app.get('/app.js', { config: { auth: PUBLIC } }, async (_request, reply) => sendFile(reply, path.join(PUBLIC_DIR, 'app.js'), 'text/javascript'));
  app.get<{ Params: { file: string } }>('/client/:file', { config: { auth: PUBLIC } }, async (request, reply) => {
    if (!CLIENT_FILE.test(request.params.file)) return reply.code(404).send();
    return sendFile(reply, path.join(CLIENT_DIST, request.params.file), 'text/javascript');
  });

  // The app's own API: any signed-in user.
  app.get('/api/notes', { config: { auth: AUTHENTICATED } }, async (request) => ({ owner: principalOf(request).subject, notes: [] }));
  options.routes?.(app);
  return app;
}
