const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Whether a value has the shape of a UUID (any version, either case). Stores check it before a
 * query, since PostgreSQL raises on a malformed uuid instead of answering "no such row".
 */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
