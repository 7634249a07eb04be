import { z } from 'zod';
import type { UserRecord } from '../../users/user-store.js';

/** The public shape of a user. Listing fields here (not spreading the record) keeps the hash in. */
export const userViewSchema = z.object({
  id: z.uuid(),
  username: z.string(),
  email: z.string().nullable(),
  created_at: z.string(),
});

export function userView(user: Pick<UserRecord, 'id' | 'username' | 'email' | 'createdAt'>): z.infer<typeof userViewSchema> {
  return { id: user.id, username: user.username, email: user.email, created_at: user.createdAt.toISOString() };
}
