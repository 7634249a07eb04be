import type { FastifyRequest } from 'fastify';
import { csrfFactsFrom, type CsrfFacts } from '../guard/csrf-layers.js';

/**
 * Every value of the header `lowerName` as sent. Read from the raw headers because Node folds
 * repeated headers (`Origin: a, b`) or keeps only the first (`Referer`, `Content-Type`), and a
 * repeated header is itself a refusal.
 */
export function rawHeaderValues(rawHeaders: readonly string[], lowerName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) values.push(rawHeaders[i + 1]!);
  }
  return values;
}

/**
 * The facts the CSRF layers (`guard/csrf-layers.ts`) judge. `jsonEndpoint`: the route reads a JSON
 * body (its content type is then checked); false for a route that takes no body or a form.
 *
 * @example
 * const refusal = csrfRefusal(csrfFactsOf(request, true), trusted);
 */
export function csrfFactsOf(request: FastifyRequest, jsonEndpoint: boolean): CsrfFacts {
  const raw = request.raw.rawHeaders;
  return csrfFactsFrom({ method: request.method, header: (name) => rawHeaderValues(raw, name) }, jsonEndpoint);
}
