import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { GatehouseError, RequestError, ShuttingDownError } from '../errors/errors.js';
import { sendError } from './error-handler.js';
import { toErrorResponse } from './error-response.js';
import { securityHeaders } from './security-headers.js';
import { parseStrictQueryString } from './strict-query-string.js';

/**
 * The answers Node and Fastify's router give on their own, before a request reaches any hook:
 * a URL the router cannot decode or a parameter over its length limit (Fastify's default body
 * echoes the whole URL, query included), an `Expect` Node does not know, an HTTP/1.1 request
 * without `Host`, bytes that do not parse as HTTP. Each is turned into a refusal that takes the
 * ordinary way — request id, security headers, the per-address limit, the error handler — except
 * the last: no request exists yet, so {@link clientErrorHandler} writes the problem itself.
 */

const refusals = new WeakMap<IncomingMessage, GatehouseError>();

/**
 * No route can have this path (a route path starts with "/"), so a request routed here reaches the
 * not-found context, whose hooks are the app's own.
 */
const UNROUTABLE_URL = '*';

function routerRefusal(error: FastifyError): GatehouseError {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return new RequestError('ERR_MALFORMED_REQUEST', 'malformed request', 'path is not valid percent-encoded UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new RequestError('ERR_URI_TOO_LONG', 'a path segment is too long', 'path parameter over the router limit');
    default:
      return new GatehouseError('ERR_INTERNAL', 'internal error', { cause: error, logReason: `router error ${error.code}` });
  }
}

/**
 * Fastify's `frameworkErrors`. Fastify calls it with a request that skipped every hook, so rather
 * than answer here the request is routed again, to a URL no route has, carrying its refusal; the
 * hook of {@link registerPreRoutingRefusals} answers it once the app's earlier hooks ran. The
 * URL is replaced first, so neither the answer nor the access log can echo it.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const raw = request.raw;
  refusals.set(raw, routerRefusal(error));
  raw.url = UNROUTABLE_URL;
  request.server.routing(raw, reply.raw);
}

/**
 * RFC 9110 §10.1.1: an expectation other than `100-continue` is refused with 417. Node answers
 * that itself (a bare 417) unless 'checkExpectation' is listened for, and then emits no
 * 'request': this hands the request to the app, marked, so the refusal hook answers it.
 */
export function answerUnmetExpectations(app: FastifyInstance): void {
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    refusals.set(request, new RequestError('ERR_EXPECTATION_FAILED', 'expectation not supported', `Expect: ${String(request.headers.expect).slice(0, 64)}`));
    app.routing(request, response);
  });
}

export interface PreRoutingRefusalOptions {
  /**
   * Refuse HTTP/1.1 requests without `Host` (RFC 9112 §3.2) here, where they get the problem
   * shape, instead of in Node (`requireHostHeader: false` on the server, then this).
   */
  readonly requireHost: boolean;
}

/**
 * RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without `Host` and to one with
 * more than one (Node keeps the first and drops the rest, so only the raw headers show it).
 */
function hostRefusal(raw: IncomingMessage): RequestError | undefined {
  if (raw.httpVersion === '1.1' && raw.headers.host === undefined)
    return new RequestError('ERR_MALFORMED_REQUEST', 'malformed request', 'HTTP/1.1 request without Host');
  let hosts = 0;
  for (let i = 0; i < raw.rawHeaders.length; i += 2) {
    if (raw.rawHeaders[i]!.length === 4 && raw.rawHeaders[i]!.toLowerCase() === 'host') hosts += 1;
  }
  return hosts > 1 ? new RequestError('ERR_MALFORMED_REQUEST', 'malformed request', 'more than one Host header') : undefined;
}

/**
 * The hook that answers the refusals noted before routing. Registered after the per-address
 * limit, so a flood of them is throttled like any request. It answers with Gatehouse's problem
 * itself rather than through the error handler, which in a host app is the host's.
 */
export function registerPreRoutingRefusals(app: FastifyInstance, options: PreRoutingRefusalOptions): void {
  // Callback style: it runs on every request and almost always just continues.
  const refuse: onRequestHookHandler = (request, reply, done) => {
    const raw = request.raw;
    const refusal = refusals.get(raw) ?? (options.requireHost ? hostRefusal(raw) : undefined);
    if (refusal === undefined) done();
    else sendError(request, reply, refusal);
  };
  app.addHook('onRequest', refuse);
}

function clientErrorCode(error: NodeJS.ErrnoException): 'ERR_HEADERS_TOO_LARGE' | 'ERR_REQUEST_TIMEOUT' | 'ERR_MALFORMED_REQUEST' {
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'ERR_HEADERS_TOO_LARGE';
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'ERR_REQUEST_TIMEOUT';
  return 'ERR_MALFORMED_REQUEST';
}

/**
 * A request that arrives while the server closes (on a kept-alive connection) is answered 503
 * through the error layer — Fastify's own `return503OnClosing` answer is a bare body without
 * request id or security headers — and its connection is closed so the client moves on.
 */
export function registerClosingRefusal(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  const refuse: onRequestHookHandler = (request, reply, done) => {
    if (!closing) {
      done();
      return;
    }
    reply.header('connection', 'close');
    sendError(request, reply, new ShuttingDownError());
  };
  app.addHook('onRequest', refuse);
}

/**
 * The server's 'clientError': the bytes did not parse as an HTTP request (or came too slowly), so
 * there is no request to route and only a raw HTTP/1.1 answer is possible. It is the problem the
 * error table gives, with the security headers and a fresh request id, and it closes the
 * connection; nothing the client sent is echoed.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) return;
  const code = clientErrorCode(error);
  const requestId = randomUUID();
  const response = toErrorResponse(new RequestError(code, 'the request could not be read', error.code), 'problem', requestId);
  const body = JSON.stringify(response.body);
  const headers: Record<string, string> = {
    ...securityHeaders(),
    ...response.headers,
    'content-type': response.contentType,
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': requestId,
    connection: 'close',
  };
  const head = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${response.status} ${String(response.body.title)}\r\n${head}\r\n${body}`);
}

/**
 * For a host app that mounts Gatehouse: the server options only the host can set. Spread them
 * into `Fastify({...})` so the router's and the HTTP parser's own answers take the same way.
 */
export const gatehouseServerOptions = Object.freeze({
  frameworkErrors,
  clientErrorHandler,
  routerOptions: Object.freeze({ querystringParser: parseStrictQueryString }),
});
