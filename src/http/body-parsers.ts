import type { FastifyInstance } from 'fastify';
import { GatehouseError, RequestError } from '../errors/errors.js';
import { illFormedText, isWellFormedText } from './text-input.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decode(body: Buffer): string {
  try {
    return strictUtf8.decode(body);
  } catch {
    throw new RequestError('ERR_MALFORMED_BODY', 'request body is not valid UTF-8', 'invalid UTF-8');
  }
}

/**
 * `__proto__` and `constructor.prototype` keys are dropped rather than trusted (prototype
 * poisoning). JSON escapes can spell a lone surrogate, which no UTF-8 check sees: refused here.
 */
function safeJsonParse(text: string): unknown {
  return JSON.parse(text, (key, value: unknown) => {
    if (!isWellFormedText(key) || (typeof value === 'string' && !isWellFormedText(value))) throw illFormedText(key, 'body');
    return key === '__proto__' || key === 'constructor' ? undefined : value;
  });
}

/** Form parameters; a repeated name becomes an array so the endpoint can refuse it (RFC 6749 §3.2). */
function parseForm(text: string): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URLSearchParams(text)) {
    // Percent-encoded bytes that are not UTF-8 decode to U+FFFD: refuse rather than guess.
    if (name.includes('\uFFFD') || value.includes('\uFFFD'))
      throw new RequestError('ERR_MALFORMED_BODY', 'form body is not valid UTF-8', 'invalid percent-encoded UTF-8');
    const previous = out[name];
    out[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
  }
  return out;
}

/**
 * Replaces Fastify's body parsers with strict ones: invalid UTF-8 is a 400, never silently
 * replaced. Hand-rolled because neither the built-in JSON parser nor @fastify/formbody rejects
 * undecodable bytes. Only JSON is accepted app-wide; see {@link registerStrictFormParser}.
 */
export function registerStrictBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      const text = decode(body as Buffer);
      if (text.trim() === '') throw new RequestError('ERR_MALFORMED_BODY', 'request body is empty', 'empty JSON body');
      done(null, safeJsonParse(text));
    } catch (error) {
      done(error instanceof GatehouseError ? error : new RequestError('ERR_MALFORMED_BODY', 'request body is not valid JSON', 'JSON syntax error'), undefined);
    }
  });
}

/**
 * The OAuth endpoints take form bodies only (RFC 6749 §3.2, RFC 7009 §2.1): the JSON parser of
 * their scope would otherwise accept a JSON body too. `endpoint` names it in the 415's message.
 */
export function requireFormBody(contentType: string | undefined, endpoint: string): void {
  if (!/^application\/x-www-form-urlencoded\b/i.test(contentType ?? '')) {
    throw new RequestError('ERR_UNSUPPORTED_MEDIA_TYPE', `the ${endpoint} endpoint takes application/x-www-form-urlencoded`);
  }
}

/**
 * Form bodies, for the OAuth endpoints only (RFC 6749 §3.2). Registered in that route's
 * scope: a JSON endpoint answers a form body with 415, so a cross-site HTML form (a "simple"
 * request, no CORS preflight) cannot post to it.
 */
export function registerStrictFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseForm(decode(body as Buffer)));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
