import type { FastifyRequest } from 'fastify';
import type { RequestFacts } from '../guard/credential-scheme.js';
import { auditContextOf } from './audit-context.js';

/**
 * A request as the credential schemes see it. Headers come from the raw list, so two headers of
 * one name stay two values (Node folds some into one string); each name is looked up at most once.
 */
export function requestFactsOf(request: FastifyRequest): RequestFacts {
  const seen = new Map<string, readonly string[]>();
  const raw = request.raw.rawHeaders;
  const i = request.url.indexOf('?');
  return {
    method: request.method,
    query: i === -1 ? '' : request.url.slice(i + 1),
    get origin() {
      return auditContextOf(request);
    },
    header(name) {
      let values = seen.get(name);
      if (values === undefined) {
        const found: string[] = [];
        for (let k = 0; k < raw.length; k += 2) if (raw[k]!.length === name.length && raw[k]!.toLowerCase() === name) found.push(raw[k + 1]!);
        values = found;
        seen.set(name, values);
      }
      return values;
    },
  };
}
