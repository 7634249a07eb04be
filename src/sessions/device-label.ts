const BROWSERS: readonly [RegExp, string][] = [
  [/\bEdg(?:e|A|iOS)?\//, 'Edge'],
  [/\bFirefox\//, 'Firefox'],
  // Headless Chromium (automation, our own browser tests) says HeadlessChrome/; it is still Chrome.
  [/\b(?:Headless)?Chrom(?:e|ium)\//, 'Chrome'],
  [/\bSafari\//, 'Safari'],
  [/^curl\//, 'curl'],
  [/^python-requests\//, 'python-requests'],
  [/^(?:node|undici|node-fetch)/i, 'Node.js'],
];
const SYSTEMS: readonly [RegExp, string][] = [
  [/\bWindows\b/, 'Windows'],
  [/\b(?:iPhone|iPad)\b/, 'iOS'],
  [/\bAndroid\b/, 'Android'],
  [/\bMac OS X\b|\bMacintosh\b/, 'macOS'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bLinux\b/, 'Linux'],
];

/**
 * A short, human label for a session's device ("Firefox on Linux"), from the User-Agent. The raw
 * header is attacker-controlled: unknown agents are shown cut short and stripped of controls.
 */
export function deviceLabel(userAgent: string | undefined): string {
  if (userAgent === undefined || userAgent.trim() === '') return 'unknown device';
  const browser = BROWSERS.find(([re]) => re.test(userAgent))?.[1];
  const system = SYSTEMS.find(([re]) => re.test(userAgent))?.[1];
  if (browser !== undefined) return system === undefined ? browser : `${browser} on ${system}`;
  // C0, DEL and C1 controls, format characters (bidi overrides, zero-width) and line separators.
  const cleaned = userAgent.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, '');
  // Cut by code point, so a surrogate pair is never split into a lone surrogate.
  const label = Array.from(cleaned).slice(0, 64).join('').trim();
  return label === '' ? 'unknown device' : label;
}
