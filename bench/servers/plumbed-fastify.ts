import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { AccessLogController, loggerOptions } from '../../src/http/logger.js';
import { registerSecurityHeaders } from '../../src/http/security-headers.js';

/**
 * A second baseline: Fastify's hello route with Gatehouse's per-request plumbing only (access
 * log at info, security headers, request id) and no authentication. The gap between it and
 * GET /me is what the guard itself costs.
 */
const app = Fastify({
  logger: loggerOptions({ logLevel: 'info' }),
  genReqId: () => randomUUID(),
  logController: new AccessLogController({ requestIdLogLabel: 'request_id' }),
});
registerSecurityHeaders(app);
app.addHook('onRequest', (request, reply, done) => {
  reply.header('x-request-id', request.id);
  done();
});
app.get('/hello', async () => ({ hello: 'world' }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.send?.({ type: 'ready', address });
