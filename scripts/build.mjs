#!/usr/bin/env node
// `npm run build` (also `prepare` and `npm start`): every package's src/ → its dist/ with tsc -b, then the
// runtime files the compiled code reads beside itself through import.meta.url (the common-passwords
// list, the argon2 worker thread's entry, the drizzle migrations, the hosted pages' templates and stylesheet). tsc -b skips projects
// that are up to date, so a run with nothing changed costs about the time to start tsc.
import { spawnSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Files under src/ that are read at run time relative to the module that reads them. */
const ASSETS = ['passwords/common-passwords.txt', 'passwords/argon2-worker.cjs', 'stores/db/migrations', 'pages/templates', 'pages/assets'];

// typescript's exports map hides bin/; the workspace root always holds it (a devDependency).
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const built = spawnSync(process.execPath, [tsc, '-b', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);

for (const asset of ASSETS) cpSync(path.join(root, 'src', asset), path.join(root, 'dist', asset), { recursive: true });

// The migrated empty database new embedded data directories start from (skips initdb on a first start).
const imaged = spawnSync(process.execPath, [path.join(root, 'scripts', 'initial-database.mjs')], { cwd: root, stdio: 'inherit' });
if (imaged.status !== 0) process.exit(imaged.status ?? 1);
