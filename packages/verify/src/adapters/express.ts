import type { RequestHandler } from 'express';
import { authorizationHeaders, queryOf } from '../bearer-credential.js';
import type { Principal } from '../principal.js';
import { authenticate, compileChecks, type AdapterOptions, type Checks } from '../requirement.js';
import type { Verifier } from '../verifier.js';

declare global {
  // Express declares its request type in this global namespace; augmenting it is the supported way.
  namespace Express {
    interface Request {
      /** Set by the gatehouse middleware. */
      gatehouse?: Principal;
    }
  }
}

/**
 * Express middleware: verifies the bearer token, applies the checks, sets `req.gatehouse`.
 *
 * @example
 * app.get('/items', gatehouse(verifier, { scopes: ['inventory:read'] }), (req, res) => res.json(list(req.gatehouse!.subject)));
 */
export function gatehouse(verifier: Verifier, checks: Checks = {}, options: AdapterOptions = {}): RequestHandler {
  const compiled = compileChecks(checks);
  return (req, res, next) => {
    authenticate(verifier, { authorization: authorizationHeaders(req.rawHeaders), query: queryOf(req.originalUrl) }, compiled, options).then((outcome) => {
      if (outcome.ok) {
        req.gatehouse = outcome.principal;
        // oxlint-disable-next-line promise/no-callback-in-promise -- Express's router catches what the next handler throws
        next();
        return;
      }
      res.status(outcome.status).set(outcome.headers).type('application/problem+json').send(JSON.stringify(outcome.body));
    }, next);
  };
}
