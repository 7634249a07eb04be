import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { confirmTotp, enrolTotp, listFactors, regenerateRecoveryCodes, removeFactor } from '../../factors/factors.js';
import type { GatehouseServices } from '../../services.js';
import { auditContextOf } from '../audit-context.js';
import { CHANGES_FACTORS, FACTOR_CHANGE_NOTE, SIGNED_IN } from './factor-change-routes.js';
import { problemSchema } from './problem-schema.js';

const factorParams = z.object({ id: z.uuid() }).strict();
const factorSchema = z.object({
  id: z.uuid(),
  kind: z.literal('totp'),
  label: z.string(),
  created_at: z.iso.datetime(),
  confirmed_at: z.iso.datetime().nullable(),
  last_used_at: z.iso.datetime().nullable(),
});
const recoveryCodesSchema = z.array(z.string()).describe('shown this once: only their digests are kept');
const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema, 429: problemSchema };
const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

/**
 * The signed-in user's second factors: TOTP enrolment (unconfirmed until a first code), the list
 * (never a secret), removal, and recovery codes. None of the answers is ever logged.
 */
export const factorRoutes: FastifyPluginAsyncZod<{ services: GatehouseServices }> = async (app, { services }) => {
  const deps = services.factors;
  const noStore = { 'cache-control': 'no-store', pragma: 'no-cache' };

  app.post(
    '/me/factors/totp',
    {
      config: { auth: CHANGES_FACTORS },
      schema: {
        tags: ['me'],
        summary: 'Start a TOTP enrolment: the otpauth URI and its QR code (SVG); confirm it with a first code',
        description: `Refused with 409 ERR_TOTP_UNAVAILABLE in production without GATEHOUSE_KEY_ENCRYPTION_KEY. A pending enrolment replaces the previous one.${FACTOR_CHANGE_NOTE}`,
        body: z
          .object({ label: z.string().min(1).max(64).optional() })
          .strict()
          .optional(),
        response: { 201: z.object({ id: z.uuid(), otpauth_uri: z.string(), qr_svg: z.string() }), ...errors },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const enrolment = await enrolTotp(deps, { id: principal.subject, username: principal.user.username }, request.body?.label, auditContextOf(request));
      request.log.info({ event: 'factor.enrolled', user_id: principal.subject, factor_id: enrolment.id }, 'TOTP enrolment started');
      return reply.code(201).headers(noStore).send({ id: enrolment.id, otpauth_uri: enrolment.otpauthUri, qr_svg: enrolment.qrSvg });
    },
  );

  app.post(
    '/me/factors/:id/confirm',
    {
      config: { auth: CHANGES_FACTORS },
      schema: {
        tags: ['me'],
        summary: 'Confirm a TOTP enrolment with a first code; the first factor also returns the recovery codes (once)',
        description: `A wrong code is 400 ERR_INVALID_CODE and counts against GATEHOUSE_LIMIT_OTP_USER.${FACTOR_CHANGE_NOTE}`,
        params: factorParams,
        body: z.object({ code: z.string().max(16) }).strict(),
        response: { 200: z.object({ id: z.uuid(), recovery_codes: recoveryCodesSchema.optional() }), ...errors },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const { recoveryCodes } = await confirmTotp(deps, principal.subject, request.params.id, request.body.code, auditContextOf(request));
      request.log.info({ event: 'factor.confirmed', user_id: principal.subject, factor_id: request.params.id }, 'TOTP factor confirmed');
      return reply.headers(noStore).send({ id: request.params.id, ...(recoveryCodes === undefined ? {} : { recovery_codes: [...recoveryCodes] }) });
    },
  );

  app.get(
    '/me/factors',
    {
      config: { auth: SIGNED_IN },
      schema: {
        tags: ['me'],
        summary: 'Your second factors (never a secret) and how many recovery codes are left',
        response: { 200: z.object({ factors: z.array(factorSchema), recovery_codes_left: z.number().int() }), ...errors },
      },
    },
    async (request) => {
      const userId = request.principal!.subject;
      const [list, left] = await Promise.all([listFactors(deps, userId), deps.store.recoveryCodesLeft(userId)]);
      return {
        factors: list.map((f) => ({
          id: f.id,
          kind: f.kind,
          label: f.label,
          created_at: f.createdAt.toISOString(),
          confirmed_at: iso(f.confirmedAt),
          last_used_at: iso(f.lastUsedAt),
        })),
        recovery_codes_left: left,
      };
    },
  );

  app.delete(
    '/me/factors/:id',
    {
      config: { auth: CHANGES_FACTORS },
      schema: {
        tags: ['me'],
        summary: 'Remove a second factor (the last one takes the recovery codes with it)',
        params: factorParams,
        response: { 204: z.void(), ...errors },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      await removeFactor(deps, principal.subject, request.params.id, auditContextOf(request));
      request.log.info({ event: 'factor.removed', user_id: principal.subject, factor_id: request.params.id }, 'second factor removed');
      return reply.code(204).send();
    },
  );

  app.post(
    '/me/recovery-codes',
    {
      config: { auth: CHANGES_FACTORS },
      schema: {
        tags: ['me'],
        summary: 'A new set of 10 recovery codes (shown once); the old set stops working',
        description: `403 ERR_FORBIDDEN without a confirmed second factor.${FACTOR_CHANGE_NOTE}`,
        response: { 200: z.object({ recovery_codes: recoveryCodesSchema }), ...errors },
      },
    },
    async (request, reply) => {
      const principal = request.principal!;
      const codes = await regenerateRecoveryCodes(deps, principal.subject, auditContextOf(request));
      request.log.info({ event: 'recovery_codes.generated', user_id: principal.subject }, 'recovery codes regenerated');
      return reply.headers(noStore).send({ recovery_codes: [...codes] });
    },
  );
};
