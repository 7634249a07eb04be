import type { paths } from './openapi.js';

/** The JSON body of a path's 2xx answer, as the server's OpenAPI document declares it. */
type Answer<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends {
  responses: Record<S, { content: { 'application/json': infer Body } }>;
}
  ? Body
  : never;
type RequestBody<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends { requestBody: { content: { 'application/json': infer Body } } }
  ? Body
  : never;

/** `/auth/login` and `/auth/refresh`: `refresh_token` is absent for a client in cookie mode. */
export type TokenResponse = Answer<'/auth/login', 'post', 200>;
export type SignInRequest = RequestBody<'/auth/login', 'post'>;
export type Me = Answer<'/me', 'get', 200>;
export type Session = Answer<'/me/sessions', 'get', 200>[number];
export type PasswordChangeRequest = RequestBody<'/me/password', 'post'>;
