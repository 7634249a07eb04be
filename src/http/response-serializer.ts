import fastJson from 'fast-json-stringify';
import { z } from 'zod';

/**
 * Replies are written by a serializer compiled once per route and status from the route's zod
 * schema (as JSON Schema), not by zod checking every reply at run time and `JSON.stringify` after
 * it: that check was 5–9 µs of every request, success or refusal (V8 profile of `GET /me`).
 *
 * What a reply can show is unchanged: only the properties its schema declares are written, so a
 * field a route did not mean to send (a hash, a secret digest) never reaches the client, and a
 * reply missing a required property fails (a 500, as a failed zod check did). What is no longer
 * checked per reply is the declared value's format or enum: a route's own tests check those.
 *
 * A schema JSON Schema cannot express (a transform, a custom type) fails at start, when the route
 * is registered, not on the first request; a refinement is simply not re-checked.
 */
export function responseSerializerCompiler({
  schema,
  method,
  url,
  httpStatus,
}: {
  schema: unknown;
  method: string;
  url: string;
  httpStatus?: string;
}): (data: unknown) => string {
  if (!(schema instanceof z.ZodType)) throw new TypeError(`${method} ${url} (${httpStatus ?? 'any status'}): the response schema is not a zod schema`);
  let serializer = compiled.get(schema);
  if (serializer === undefined) {
    serializer = compile(schema);
    compiled.set(schema, serializer);
  }
  return serializer;
}

/**
 * One serializer per schema, whatever routes and statuses declare it: the standalone app
 * declares 359 replies with 51 schemas (the problem schema on nearly every route), and compiling
 * each declaration anew added about 100 ms to every start.
 */
const compiled = new WeakMap<z.ZodType, (data: unknown) => string>();

function compile(schema: z.ZodType): (data: unknown) => string {
  // A 204's schema: Fastify writes no body for it, and zod's own serializer returned none either.
  if (schema instanceof z.ZodVoid) return () => '';
  const jsonSchema = z.toJSONSchema(schema, { target: 'draft-07', io: 'output', unrepresentable: 'throw' });
  return fastJson(jsonSchema as Parameters<typeof fastJson>[0]) as (data: unknown) => string;
}
