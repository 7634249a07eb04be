import type { FastifyReply, FastifyRequest } from 'fastify';
import { ThrottledError, type GatehouseError } from '../../errors/errors.js';
import { createPageRenderer, type ErrorPage, type PageRenderer } from '../../pages/page-renderer.js';
import type { ErrorResponse } from '../error-response.js';
import { pageHeaders } from './headers.js';

let renderer: PageRenderer | undefined;
const pageRenderer = () => (renderer ??= createPageRenderer());
const HEADERS = pageHeaders();

/** What a person reads; the status and headers are the API's (toErrorResponse), so the rules are one. */
function wording(status: number): Pick<ErrorPage, 'title' | 'detail'> {
  switch (status) {
    case 401:
      return { title: 'Please sign in', detail: 'This page needs you to be signed in.' };
    case 403:
      return { title: 'Request refused', detail: 'The request was refused. Reload the page and try again.' };
    case 404:
      return { title: 'Page not found', detail: 'There is no page at this address.' };
    case 429:
      return { title: 'Too many attempts', detail: 'There were too many attempts in a short time.' };
    case 503:
      return { title: 'Temporarily unavailable', detail: 'Gatehouse cannot answer right now.' };
    default:
      return status >= 500
        ? { title: 'Something went wrong', detail: 'The request could not be completed.' }
        : { title: 'Request not accepted', detail: 'The request could not be understood.' };
  }
}

/**
 * An error on a hosted page (route `config.errorStyle: 'page'`) as an HTML page with the status and
 * headers the API would send (Retry-After on a 429), the page headers, and no detail beyond the
 * status: a message could name what was typed.
 */
export function sendErrorPage(request: FastifyRequest, reply: FastifyReply, error: GatehouseError, response: ErrorResponse): FastifyReply {
  const page: ErrorPage = {
    status: response.status,
    ...wording(response.status),
    requestId: request.id,
    ...(error instanceof ThrottledError ? { retryAfterSeconds: error.retryAfterSeconds, next: { href: '/login', text: 'Back to sign-in' } } : {}),
  };
  return reply.code(response.status).headers(response.headers).headers(HEADERS).type('text/html; charset=utf-8').send(pageRenderer().render('error', page));
}
