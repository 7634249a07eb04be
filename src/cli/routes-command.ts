import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../config/config.js';
import { buildApp } from '../http/app.js';
import { generateSigningJwk } from '../keys/development-keys.js';
import { createServices } from '../services.js';
import { EXIT, EXIT_CODES_HELP, parseCommand } from './arguments.js';
import type { CliIo } from './cli-services.js';
import { checkRoutes, collectRoutes, hasUnexpectedFlag, type RouteReport } from './route-inventory.js';

export const ROUTES_USAGE = `usage: gatehouse routes [--json]

Builds the app as the environment configures it (on a throwaway in-memory database, with a
throwaway key, never listening) and prints every route: method, path and requirement
(public / authenticated / via the schemes it accepts when not just bearer / scopes all(…) or
any(…) / roles any(…)). HEAD routes that mirror
their GET are not repeated. Flags:
  PUBLIC_WRITE               POST/PUT/PATCH/DELETE without a token; the auth endpoints
                             (/auth/token, login, register, refresh, revoke) are marked expected
  ADMIN_WITHOUT_ADMIN_SCOPE  a route under /admin that a token without an admin:* scope passes
  OPENAPI_MISMATCH           the OpenAPI security of the route says something else than the guard
--json prints {"routes":[{method, path, requirement, public, scopes, match, roles, schemes, openapi,
flags:[{code, detail, expected?}]}], "unexpected": N}.

Exit 1 when a flag is not expected, 0 otherwise.

${EXIT_CODES_HELP}`;

function formatReport(reports: readonly RouteReport[]): string {
  const rows = [
    ['METHOD', 'PATH', 'REQUIREMENT', 'FLAGS'],
    ...reports.map((r) => [r.method, r.path, r.requirement, r.flags.map((f) => (f.expected === undefined ? f.code : `${f.code}(expected)`)).join(' ')]),
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c))
      .join('  ')
      .trimEnd(),
  );
  const flagged = reports.flatMap((r) => r.flags.map((f) => ({ route: `${r.method} ${r.path}`, flag: f })));
  if (flagged.length > 0) {
    lines.push('', 'flags:');
    const width = Math.max(...flagged.map((f) => f.route.length));
    for (const { route, flag } of flagged) {
      lines.push(
        flag.expected === undefined
          ? `  UNEXPECTED  ${route.padEnd(width)}  ${flag.code}: ${flag.detail}`
          : `  expected    ${route.padEnd(width)}  ${flag.code}: ${flag.expected}`,
      );
    }
  }
  const unexpected = flagged.filter((f) => f.flag.expected === undefined).length;
  lines.push('', `${reports.length} routes; ${flagged.length - unexpected} expected flags, ${unexpected} unexpected`);
  return lines.join('\n');
}

/** The deployment's configuration on stores and a key that touch nothing of the deployment. */
export function throwaway(config: Config): Config {
  return Object.freeze({
    ...config,
    database: Object.freeze({ kind: 'pglite-memory' as const }),
    redisUrl: undefined,
    redisSentinel: undefined,
    signingKeysPath: undefined,
    // A throwaway pepper too: no development pepper is written into the deployment's data dir.
    apiKeyPeppers: Object.freeze([randomBytes(32).toString('base64url')]),
  });
}

/** `gatehouse routes`: the route table and its flags; exit 1 on an unexpected flag. */
export async function routesCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(argv, { usage: ROUTES_USAGE, options: { json: { type: 'boolean' } }, positionals: [] });
  if (parsed.help) {
    io.stdout.write(`${ROUTES_USAGE}\n`);
    return EXIT.OK;
  }
  const config = throwaway(loadConfig(io.env, { needs: 'database' }));
  const services = await createServices(config, { signingKeys: [await generateSigningJwk()] });
  let reports: RouteReport[];
  try {
    const { app, routes } = await collectRoutes(() => buildApp(services, { logger: false }));
    try {
      reports = checkRoutes(routes, app.swagger() as Parameters<typeof checkRoutes>[1]);
    } finally {
      await app.close();
    }
  } finally {
    await services.close();
  }
  const unexpected = reports.reduce((n, r) => n + r.flags.filter((f) => f.expected === undefined).length, 0);
  io.stdout.write(parsed.values.json === true ? `${JSON.stringify({ routes: reports, unexpected })}\n` : `${formatReport(reports)}\n`);
  return hasUnexpectedFlag(reports) ? EXIT.FAILED : EXIT.OK;
}
