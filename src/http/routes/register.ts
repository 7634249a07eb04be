import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PUBLIC } from '../../guard/requirement.js';
import { auditContextOf } from '../audit-context.js';
import type { GatehouseServices } from '../../services.js';
import { registerUser } from '../../users/registration.js';
import { principalUserOf } from '../../guard/principal.js';
import { mailRegistrationConfirmation } from './email.js';
import { problemSchema } from './problem-schema.js';
import { userViewSchema, userView } from './user-view.js';

// Shapes and bounds only; the username and password rules live in the core and name the field.
const body = z
  .object({
    username: z.string().max(256),
    email: z.string().max(320).nullish(),
    password: z.string().max(4096),
  })
  .strict();

export const registerRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  app.post(
    '/auth/register',
    {
      config: { auth: PUBLIC, throttle: 'register' },
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        body,
        response: { 201: userViewSchema, 400: problemSchema, 409: problemSchema },
      },
    },
    async (request, reply) => {
      const user = await registerUser(
        {
          users: services.users,
          hasher: services.hasher,
          passwordMinLength: services.config.passwordMinLength,
          requireEmail: services.config.emailVerification === 'required',
        },
        request.body,
        auditContextOf(request),
      );
      mailRegistrationConfirmation(services, user, auditContextOf(request));
      request.log.info({ event: 'user.registered', user_id: user.id }, 'user registered');
      return reply.code(201).send(userView(principalUserOf(user)));
    },
  );
};
