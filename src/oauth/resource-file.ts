import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors/errors.js';
import type { ScopeCatalogue } from './scope-catalogue.js';
import { resourceProblems, type ResourceServer } from './resource-servers.js';

/**
 * Reads the resource servers file (`GATEHOUSE_RESOURCES`): `{"resources": [{"identifier", "scopes",
 * "description"?}, …]}`. Every problem is reported at once, one line each, prefixed with the
 * variable, so the operator fixes the file in one start attempt.
 */
export async function readResourceFile(
  path: string,
  scopes: ScopeCatalogue,
  ownAudience: readonly string[],
  variable = 'GATEHOUSE_RESOURCES',
): Promise<ResourceServer[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new ConfigError([`${variable}: ${path} is not valid JSON`]);
  }
  const resources = (document as { resources?: unknown } | null)?.resources;
  if (typeof document !== 'object' || document === null || Array.isArray(document) || !Array.isArray(resources)) {
    throw new ConfigError([`${variable}: ${path} must be a document {"resources":[…]}`]);
  }
  const problems = Object.keys(document)
    .filter((k) => k !== 'resources')
    .map((k) => `${variable}: unknown field ${JSON.stringify(k)}`);
  problems.push(...resourceProblems(resources, scopes, ownAudience).map((p) => `${variable}: ${p}`));
  if (problems.length > 0) throw new ConfigError(problems);
  return resources as ResourceServer[];
}
