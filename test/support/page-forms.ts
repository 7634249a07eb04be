import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import type { TestApp } from './test-app.js';

/** What a browser sends with a form posted from one of our own pages (Fetch Metadata, layer 1). */
export const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin' } as const;
export const formBody = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
export const CSRF_COOKIE = '__Host-gatehouse_csrf';
export const SESSION_COOKIE = '__Host-gatehouse_session';

/** The `name=value` of cookie `name` a response sets, if it sets one. */
export function cookieSet(res: LightMyRequestResponse, name: string): string | undefined {
  return [res.headers['set-cookie'] ?? []]
    .flat()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${name}=`));
}

/** The form token a page carries. */
export const formTokenOf = (page: LightMyRequestResponse) => /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1];

/** The CSRF cookie (name=value) and the form token of a fresh GET of `url`: what a browser holds. */
export async function formSession(
  t: TestApp,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ cookie: string; token: string; page: LightMyRequestResponse }> {
  const page = await t.inject({ method: 'GET', url, headers });
  const cookie = cookieSet(page, CSRF_COOKIE);
  const token = formTokenOf(page);
  assert.ok(cookie !== undefined && token !== undefined, `${url} sets a CSRF cookie and carries a token`);
  return { cookie, token, page };
}
