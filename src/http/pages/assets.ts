import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { PUBLIC } from '../../guard/requirement.js';

/** Beside src/pages/page-renderer.ts in src/ and, copied by scripts/build.mjs, in dist/. */
const STYLESHEET = fileURLToPath(new URL('../../pages/assets/gatehouse.css', import.meta.url));
const PASSKEY_SCRIPT = fileURLToPath(new URL('../../pages/assets/passkeys.js', import.meta.url));

/**
 * GET /assets/gatehouse.css: the pages' one stylesheet, from Gatehouse itself (no CDN: CSP
 * `style-src 'self'`, and nothing of the sign-in page depends on another party). Read once at start.
 */
export function registerPageAssets(app: FastifyInstance): void {
  const css = readFileSync(STYLESHEET);
  app.get('/assets/gatehouse.css', { config: { auth: PUBLIC }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(css),
  );
  // The passkey buttons of /login and /account: the only script a page runs (their CSP names 'self').
  const script = readFileSync(PASSKEY_SCRIPT);
  app.get('/assets/passkeys.js', { config: { auth: PUBLIC }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/javascript; charset=utf-8').send(script),
  );
}
