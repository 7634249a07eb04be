import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { MIN_DISTINCT_COLOURS, screenshot } from './chromium.js';

/** Every page is looked at: saved as an artefact and checked to have rendered something. */
export async function assertScreenshot(page: Page, name: string): Promise<void> {
  const { file, colours } = await screenshot(page, name);
  assert.ok(colours > MIN_DISTINCT_COLOURS, `${file} looks blank (${colours} colours)`);
}

/** Fills the sign-in form as a person would (labels, keyboard) and submits it. */
export async function signInThroughForm(page: Page, base: string, username: string, password: string, returnTo?: string): Promise<void> {
  await page.goto(`${base}/login${returnTo === undefined ? '' : `?return_to=${encodeURIComponent(returnTo)}`}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in' }).click()]);
}
