import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { GatehouseServices } from '../../services.js';
import { preparePageScope } from '../pages/page-kit.js';
import { accountPageRoutes } from './account-pages.js';
import { factorPageRoutes } from './factor-pages.js';
import { recoveryPageRoutes } from './recovery-pages.js';
import { secondFactorPageRoutes } from './second-factor-pages.js';
import { signInPageRoutes } from './sign-in-pages.js';

/**
 * The hosted pages (/login, /register, /account, /logout, /forgot-password, /reset-password, /confirm-email, /login/second-factor, /login/step-up, the authenticator-app forms of /account): server-rendered HTML forms that work
 * without JavaScript. In their own scope: cookies parsed, form bodies accepted, the page headers
 * (pages/headers.ts), errors as pages (`errorStyle: 'page'`), and every POST checked for a
 * cross-site origin and the synchronizer token before its handler runs.
 */
export const pageRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const kit = await preparePageScope(app, services.config);
  await app.register(signInPageRoutes, { services, kit });
  await app.register(accountPageRoutes, { services, kit });
  await app.register(recoveryPageRoutes, { services, kit });
  await app.register(secondFactorPageRoutes, { services, kit });
  await app.register(factorPageRoutes, { services, kit });
};
