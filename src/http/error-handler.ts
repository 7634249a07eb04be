import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { GatehouseError, RequestError, ValidationError, type FieldIssue } from '../errors/errors.js';
import { toErrorResponse } from './error-response.js';
import { sendErrorPage } from './pages/error-page.js';

/** Turns whatever was thrown into a GatehouseError; anything unrecognised is an internal error. */
export function normalizeError(error: unknown): GatehouseError {
  if (error instanceof GatehouseError) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const context = (error as { validationContext?: string }).validationContext ?? 'body';
    const issues: FieldIssue[] = error.validation.map((v) => {
      const path = v.instancePath.replace(/^\//, '').replaceAll('/', '.');
      return { field: path === '' ? context : path, message: v.message ?? 'invalid' };
    });
    return new ValidationError(issues);
  }
  const fastifyError = error as Partial<FastifyError>;
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const reason = `${fastifyError.code ?? 'client error'}`;
    if (status === 413) return new RequestError('ERR_PAYLOAD_TOO_LARGE', 'request body too large', reason);
    if (status === 415) return new RequestError('ERR_UNSUPPORTED_MEDIA_TYPE', 'unsupported content type', reason);
    if (status === 431) return new RequestError('ERR_HEADERS_TOO_LARGE', 'request headers too large', reason);
    if (status === 404) return new RequestError('ERR_NOT_FOUND', 'no such resource', reason);
    return new RequestError('ERR_MALFORMED_BODY', 'malformed request', reason);
  }
  return new GatehouseError('ERR_INTERNAL', 'internal error', { cause: error, logReason: 'unhandled error' });
}

export function sendError(request: FastifyRequest, reply: FastifyReply, thrown: unknown): FastifyReply {
  const error = normalizeError(thrown);
  const style = request.routeOptions.config?.errorStyle ?? 'problem';
  const response = toErrorResponse(error, style, request.id);
  // The client gets a generic message; the log gets the reason (never the token or password).
  const logFields = { err_code: error.code, reason: error.logReason, status: response.status };
  if (response.status >= 500) request.log.error({ ...logFields, err: error.cause ?? error }, 'request failed');
  else request.log.info(logFields, 'request refused');
  if (style === 'page') return sendErrorPage(request, reply, error, response);
  return reply.code(response.status).headers(response.headers).type(response.contentType).send(response.body);
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  app.setNotFoundHandler((request, reply) => sendError(request, reply, new RequestError('ERR_NOT_FOUND', 'no such resource')));
}
