// Rewrites the README's settings table from src/config/settings.ts (`npm run docs:settings`).
import { readFileSync, writeFileSync } from 'node:fs';
import { withSettingsTable } from '../src/config/settings-table.js';

const path = new URL('../README.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = withSettingsTable(before);
if (after !== before) writeFileSync(path, after);
process.stdout.write(after === before ? 'README.md: settings table up to date\n' : 'README.md: settings table rewritten\n');
