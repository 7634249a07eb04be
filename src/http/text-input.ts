import type { FastifyInstance, preValidationHookHandler } from 'fastify';
import { RequestError, ValidationError } from '../errors/errors.js';
import { isUndecodableQuery } from './strict-query-string.js';

const MESSAGE = 'must be well-formed text';

/**
 * A lone surrogate ("\ud800", which JSON.parse accepts) is not text: encoded to UTF-8 for a hash
 * or a query it becomes U+FFFD, so "\ud800", "\udfff" and "\ufffd" would all be one password.
 */
export function isWellFormedText(value: string): boolean {
  return value.isWellFormed();
}

/** Also no NUL: PostgreSQL text cannot hold one, and asking for it is a query error, not "none". */
function isQueryableText(value: string): boolean {
  return value.isWellFormed() && !value.includes('\u0000');
}

/** The refusal for a field (a key that is itself ill-formed is not echoed: `where` names it instead). */
export function illFormedText(field: string, where: string): ValidationError {
  return new ValidationError([{ field: field !== '' && isQueryableText(field) ? field : where, message: MESSAGE }]);
}

function firstBadEntry(values: unknown, accept: (text: string) => boolean): string | undefined {
  if (typeof values !== 'object' || values === null) return undefined;
  for (const [name, value] of Object.entries(values)) {
    if (!accept(name)) return name;
    const texts: unknown[] = Array.isArray(value) ? value : [value];
    if (texts.some((text) => typeof text === 'string' && !accept(text))) return name;
  }
  return undefined;
}

/**
 * Query strings, path parameters and the User-Agent (which the audit trail stores) are refused if
 * they carry ill-formed text or a NUL: each of them can reach a query, where a NUL is a database
 * error that would look like an outage (503). Bodies are checked by their parsers
 * (src/http/body-parsers.ts); a NUL in a body is left to each use case, so a login can refuse it
 * as a wrong password. preValidation: after the guard, before any validation, resource load or
 * handler.
 */
export function registerTextInputCheck(app: FastifyInstance): void {
  const check: preValidationHookHandler = (request, _reply, done) => {
    if (isUndecodableQuery(request.query)) {
      done(new RequestError('ERR_MALFORMED_REQUEST', 'malformed request', 'query is not valid percent-encoded UTF-8'));
      return;
    }
    for (const [where, values] of [
      ['querystring', request.query],
      ['params', request.params],
    ] as const) {
      const bad = firstBadEntry(values, isQueryableText);
      if (bad !== undefined) {
        done(illFormedText(bad, where));
        return;
      }
    }
    const userAgent = request.headers['user-agent'];
    done(userAgent === undefined || isQueryableText(userAgent) ? undefined : illFormedText('user-agent', 'headers'));
  };
  app.addHook('preValidation', check);
}
