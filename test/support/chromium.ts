import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { chromium, type Browser, type Page } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Debian's chromium (installed by .ci/run). Playwright never downloads a browser here. */
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
/** Where screenshots go (gitignored): test artefacts to look at after a run. */
export const SCREENSHOT_DIR = path.join(ROOT, 'test-artifacts', 'screenshots');

const requireReal = ['1', 'true'].includes(process.env.GATEHOUSE_TEST_REQUIRE_REAL ?? '');

/**
 * `false` when Chromium is there (or must be: CI sets GATEHOUSE_TEST_REQUIRE_REAL, and a missing
 * browser then fails the launch instead of skipping); otherwise the reason, for `{ skip }`.
 */
export function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM_PATH) || requireReal) return false;
  return `${CHROMIUM_PATH} is not installed (apt-get install chromium); the browser tests need it, and GATEHOUSE_TEST_REQUIRE_REAL=1 makes them mandatory`;
}

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`${CHROMIUM_PATH} is missing: install Debian's chromium (apt-get install -y chromium)`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
}

/** Distinct RGBA values in a PNG: a blank (or single-colour) render has one or two. */
export function distinctColours(png: Buffer): number {
  const { data } = PNG.sync.read(png);
  const seen = new Set<number>();
  for (let i = 0; i < data.length; i += 4) seen.add(data.readUInt32BE(i));
  return seen.size;
}

/** A page with text, fields and buttons has antialiased glyphs: many more colours than this. */
export const MIN_DISTINCT_COLOURS = 32;

/** Saves a full-page screenshot as `<name>.png` and returns its distinct colour count. */
export async function screenshot(page: Page, name: string): Promise<{ file: string; colours: number }> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const png = await page.screenshot({ fullPage: true });
  const file = path.join(SCREENSHOT_DIR, `${process.env.GATEHOUSE_TEST_STORES ?? 'embedded'}-${name}.png`);
  writeFileSync(file, png);
  return { file, colours: distinctColours(png) };
}
