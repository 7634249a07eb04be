import { allSettings } from '../config/settings.js';
import type { CliIo } from './cli-services.js';

export interface SettingLine {
  readonly name: string;
  /** `set` with the value, `default` with the table's default as documented. Secrets: never the value. */
  readonly source: 'set' | 'default';
  readonly value: string;
}

/** Every setting from the one table, with what the environment gives it. */
export function listSettings(env: CliIo['env']): SettingLine[] {
  return allSettings().map((setting) => {
    const raw = env[setting.name];
    if (raw === undefined || raw === '') return { name: setting.name, source: 'default', value: setting.shownDefault };
    return { name: setting.name, source: 'set', value: setting.secret === true ? '(set, not shown)' : raw };
  });
}

export function formatSettings(lines: readonly SettingLine[]): string {
  const width = Math.max(...lines.map((l) => l.name.length));
  return lines.map((l) => `${l.name.padEnd(width)}  ${l.source === 'set' ? l.value : `(default) ${l.value}`}`).join('\n');
}
