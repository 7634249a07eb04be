import { z } from 'zod';
import type { PrincipalUser } from '../../guard/principal.js';

/** The public shape of a user. Listing fields here (not spreading the record) keeps the hash in. */
export const userViewSchema = z.object({
  id: z.uuid(),
  username: z.string(),
  email: z.string().nullable(),
  /** Whether `email` was confirmed by a mailed code; only a confirmed address receives password resets. */
  email_verified: z.boolean(),
  created_at: z.string(),
});

/** From a principal's user, or a record through principalUserOf. */
export function userView(user: Pick<PrincipalUser, 'id' | 'username' | 'email' | 'emailVerified' | 'createdAt'>): z.infer<typeof userViewSchema> {
  return { id: user.id, username: user.username, email: user.email, email_verified: user.emailVerified, created_at: user.createdAt.toISOString() };
}
