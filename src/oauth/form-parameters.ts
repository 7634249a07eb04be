import { InvalidRequestError } from '../errors/errors.js';

/** Form parameters as parsed: a repeated parameter arrives as an array. */
export type FormParameters = Readonly<Record<string, string | readonly string[] | undefined>>;

export function single(params: FormParameters, name: string): string | undefined {
  const value = params[name];
  return typeof value === 'string' ? value : undefined;
}

/** RFC 6749 §3.2: request parameters must not be included more than once. */
export function rejectRepeatedParameters(params: FormParameters): void {
  const repeated = Object.keys(params).find((k) => Array.isArray(params[k]));
  if (repeated !== undefined) throw new InvalidRequestError(`parameter "${repeated}" is repeated`);
}

export function requireParam(params: FormParameters, name: string): string {
  const value = single(params, name);
  if (value === undefined || value === '') throw new InvalidRequestError(`parameter "${name}" is required`);
  return value;
}
