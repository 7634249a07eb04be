import type { FastifyInstance } from 'fastify';

/**
 * The hosted pages' own headers, stricter than the app-wide helmet set (src/http/security-headers.ts,
 * whose CSP allows Swagger UI's inline styles): no script at all, our one stylesheet, forms that post
 * only to us, never framed (clickjacking: CSP `frame-ancestors` plus X-Frame-Options for old
 * browsers), never stored (an account page holds personal data and CSRF tokens).
 *
 * `form-action` also lists the trusted return_to origins: Chromium applies it to the redirect that
 * follows a form submission, so a sign-in that returns to a trusted app would otherwise be blocked.
 */
export function pageHeaders(formTargets: readonly string[] = []): Readonly<Record<string, string>> {
  return Object.freeze({
    'content-security-policy': pageCsp(formTargets, false),
    'x-frame-options': 'DENY',
    'cache-control': 'no-store',
    // The pages' forms and links are same-origin; a return_to URL of another app leaks nothing more.
    'referrer-policy': 'same-origin',
  });
}

/**
 * The pages' CSP; `script`: the pages with passkey buttons (/login, /account) may run the one
 * same-origin script, `/assets/passkeys.js`, and fetch from their own origin. Still no inline script.
 */
export function pageCsp(formTargets: readonly string[], script: boolean): string {
  const formAction = ["'self'", ...formTargets].join(' ');
  const scripts = script ? " script-src 'self'; connect-src 'self';" : '';
  return `default-src 'none';${scripts} style-src 'self'; img-src 'self'; form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

/** Sets `headers` on every answer of `scope` (after the app-wide set, which it overrides); computed once. */
export function registerPageHeaders(scope: FastifyInstance, headers: Readonly<Record<string, string>>): void {
  scope.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
