import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CLIENT_TYPES_FILE, clientTypesSource } from '../../scripts/client-types.js';

test("@gatehouse/client's committed types are those of the server's OpenAPI document (else: npm run client:types)", async () => {
  const committed = readFileSync(CLIENT_TYPES_FILE, 'utf8');
  assert.ok(committed === (await clientTypesSource()), 'packages/client/src/openapi.ts is stale: run `npm run client:types` and commit it');
});
