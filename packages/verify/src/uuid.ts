const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a value has the shape of a UUID (any version, either case): Gatehouse names users and tenants by UUID. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
