// Writes a migrated in-memory PGlite database, dumped, to the file named by the first argument:
// the embedded test pass starts each test's database from it instead of running initdb (see
// scripts/run-tests.mjs and test/support/test-stores.ts).
import { writePgliteTemplate } from '../src/stores/db/database.js';

const file = process.argv[2];
if (file === undefined) throw new Error('usage: pglite-template.ts <file>');
await writePgliteTemplate(file);
