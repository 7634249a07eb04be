#!/usr/bin/env node
// Part of `npm run build`: writes dist/stores/db/initial-database.tgz, the migrated empty database a
// new embedded data directory starts from (see INITIAL_DATABASE in src/stores/db/database.ts), when
// the migrations changed since it was last written (a digest of the folder, kept beside it).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'stores', 'db');
const image = path.join(out, 'initial-database.tgz');
const stamp = path.join(out, 'initial-database.digest');

/** Every file under the migrations folder, by relative path and content. */
function digestOf(dir) {
  const hash = createHash('sha256');
  const walk = (rel) => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) walk(child);
      else
        hash
          .update(child)
          .update('\0')
          .update(readFileSync(path.join(dir, child)))
          .update('\0');
    }
  };
  walk('');
  return hash.digest('hex');
}

const digest = digestOf(path.join(out, 'migrations'));
if (existsSync(image) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) process.exit(0);
const { writePgliteTemplate } = await import(pathToFileURL(path.join(out, 'database.js')).href);
await writePgliteTemplate(image, 'gzip');
writeFileSync(stamp, digest);
