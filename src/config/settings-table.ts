import { allSettings } from './settings.js';

/** The markers around the README's settings table; `npm run docs:settings` rewrites what lies between. */
export const SETTINGS_BEGIN = '<!-- settings:begin (generated from src/config/settings.ts by npm run docs:settings; do not edit) -->';
export const SETTINGS_END = '<!-- settings:end -->';

/** The settings table in Markdown, one row per setting, from the one table. */
export function settingsMarkdown(): string {
  const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const rows = allSettings().map((s) => `| \`${s.name}\` | ${cell(s.doc)} | ${cell(s.shownDefault)} |`);
  return ['| variable | meaning | default |', '|---|---|---|', ...rows].join('\n');
}

/** `readme` with the block between the markers replaced; throws when a marker is missing. */
export function withSettingsTable(readme: string): string {
  const begin = readme.indexOf(SETTINGS_BEGIN);
  const end = readme.indexOf(SETTINGS_END);
  if (begin < 0 || end < begin) throw new Error(`README.md: the markers ${SETTINGS_BEGIN} … ${SETTINGS_END} are missing`);
  return `${readme.slice(0, begin + SETTINGS_BEGIN.length)}\n${settingsMarkdown()}\n${readme.slice(end)}`;
}
