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
});

/** RFC 6749 §5.2 error response. */
export const oauthErrorSchema = z.object({ error: z.string(), error_description: z.string().optional() });
