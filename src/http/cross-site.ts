import type { onRequestAsyncHookHandler } from 'fastify';
import type { RequestFacts } from '../guard/credential-scheme.js';
import { assertNotCrossSite, csrfFactsFrom } from '../guard/csrf-layers.js';
import type { TrustedOrigins } from '../guard/trusted-origins.js';
import { sendError } from './error-handler.js';
import { requestFactsOf } from './request-facts.js';

/** The CSRF layers (guard/csrf-layers.ts) for a request a cookie authenticated; the guard runs it. */
export function crossSiteCheck(trusted: TrustedOrigins): (request: RequestFacts, jsonEndpoint: boolean) => void {
  return (request, jsonEndpoint) => assertNotCrossSite(csrfFactsFrom(request, jsonEndpoint), trusted);
}

/**
 * The same layers for the public writes that change which session the browser holds (sign-in,
 * sign-out): no cookie authenticates them, yet another site must not sign a browser in to an
 * account of its choosing (login CSRF) or out of its own. They take forms too, so no content-type
 * layer.
 */
export function refuseCrossSite(trusted: TrustedOrigins): onRequestAsyncHookHandler {
  const check = crossSiteCheck(trusted);
  return async function crossSite(request, reply) {
    try {
      check(requestFactsOf(request), false);
    } catch (error) {
      return sendError(request, reply, error);
    }
    return undefined;
  };
}
