import type { LightMyRequestResponse } from 'fastify';

/** The response's headers less those that differ on every answer (date, request id): for comparing two answers. */
export function headersWithout(res: LightMyRequestResponse, ...names: string[]): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...res.headers };
  for (const n of names) delete copy[n];
  return copy;
}
