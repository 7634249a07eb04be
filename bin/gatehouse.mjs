#!/usr/bin/env node
// Runs the compiled CLI (dist/): nothing is transpiled at run time. In a checkout, `npm ci` builds dist/
// (the `prepare` script) and `npm start` / `npm test` rebuild it when the sources changed.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('gatehouse: the compiled CLI (dist/) is missing; run `npm run build` in the gatehouse checkout first');
  process.exit(1);
}
await import(main.href);
