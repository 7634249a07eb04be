import type { Config } from '../config/config.js';
import { loadOrCreateDevelopmentSecret } from '../config/development-secret.js';
import { ConfigError } from '../errors/errors.js';
import { apiKeyPeppers, DEVELOPMENT_PEPPER_FILE, pepperProblem, PEPPER_VARIABLE, type ApiKeyPeppers } from './api-key-peppers.js';

/**
 * GATEHOUSE_API_KEY_PEPPER, or in development a pepper generated once in the data directory
 * (mode 0600), exactly like the development KEK. Production without it stops `serve`.
 */
export async function resolveApiKeyPeppers(config: Pick<Config, 'apiKeyPeppers' | 'env' | 'dataDir' | 'needs'>): Promise<ApiKeyPeppers> {
  if (config.apiKeyPeppers.length > 0) return apiKeyPeppers(config.apiKeyPeppers);
  if (config.env === 'production') {
    const missing = new ConfigError([
      `${PEPPER_VARIABLE}: required in production (base64url of 32 random bytes; a comma list to rotate, the first is current)`,
    ]);
    // A CLI command on the database (users, tenants) touches no API key: it fails only if it would.
    if (config.needs === 'database') {
      const refuse = (): never => {
        throw missing;
      };
      return { digest: refuse, matches: refuse };
    }
    throw missing;
  }
  const { value } = await loadOrCreateDevelopmentSecret(config.dataDir, DEVELOPMENT_PEPPER_FILE, PEPPER_VARIABLE, pepperProblem);
  return apiKeyPeppers([value]);
}
