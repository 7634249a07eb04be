import Fastify from 'fastify';

// The baseline: Fastify with nothing but a hello route, as a user would start it.
const app = Fastify({ logger: false });
app.get('/hello', async () => ({ hello: 'world' }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.send?.({ type: 'ready', address });
