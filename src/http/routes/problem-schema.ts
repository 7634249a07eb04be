import { z } from 'zod';

/** RFC 9457 problem details as Gatehouse writes them. Routes serialize through it, so every field we send must be listed. */
export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  code: z.string(),
  detail: z.string(),
  request_id: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  required_scopes: z.array(z.string()).optional(),
  /** ERR_MFA_REQUIRED only: the challenge the factor step takes, and its lifetime in seconds. */
  mfa_challenge: z.string().optional(),
  expires_in: z.number().int().optional(),
});

/** RFC 6749 §5.2 error response. */
export const oauthErrorSchema = z.object({
  error: z.string(),
  error_description: z.string().optional(),
  /** `mfa_required` only: the challenge the MFA grant takes, and its lifetime in seconds. */
  mfa_challenge: z.string().optional(),
  expires_in: z.number().int().optional(),
});
