import { createHash } from 'node:crypto';
import { decodeClientDataJSON } from '@simplewebauthn/server/helpers';
import { z } from 'zod';
import type { EphemeralStore } from '../stores/ephemeral/ephemeral-store.js';

/** A ceremony's challenge is good for this long at most (and the browser's `timeout` says the same). */
export const CEREMONY_LIFETIME_MS = 5 * 60_000;

export type CeremonyKind = 'registration' | 'authentication';

const ceremonySchema = z
  .object({
    kind: z.enum(['registration', 'authentication']),
    challenge: z.string(),
    /** Registration only: whose passkey it will be. */
    userId: z.string().optional(),
    /** The origin `clientDataJSON` must name. */
    origin: z.string(),
    /** Epoch ms. */
    expiresAt: z.number(),
  })
  .strict();

/** What an options call bound its challenge to; the verify call gets it back once. */
export type Ceremony = z.infer<typeof ceremonySchema>;

export interface PasskeyCeremonies {
  /** Keeps the ceremony (under its challenge's digest) for {@link CEREMONY_LIFETIME_MS}. */
  begin(ceremony: Omit<Ceremony, 'expiresAt'>): Promise<void>;
  /**
   * The ceremony of the challenge `clientDataJSON` names, taken in one atomic step (Redis GETDEL):
   * of any number of verify calls presenting one challenge, on any instance, one gets it, whatever
   * its outcome. Undefined: malformed clientDataJSON, an unknown, used or expired challenge.
   */
  take(clientDataJSON: unknown): Promise<Ceremony | undefined>;
}

export interface PasskeyCeremonyDeps {
  readonly store: Pick<EphemeralStore, 'set' | 'take'>;
  /** Epoch ms. */
  readonly now: () => number;
}

/** The key holds the challenge's digest: the store's contents name no challenge a browser could answer. */
const keyOf = (challenge: string): string => `passkey-ceremony:${createHash('sha256').update(challenge).digest('base64url')}`;

/** The challenge a browser's clientDataJSON carries; undefined when it is not one. */
function challengeOf(clientDataJSON: unknown): string | undefined {
  if (typeof clientDataJSON !== 'string' || clientDataJSON.length === 0 || clientDataJSON.length > 4096) return undefined;
  try {
    const { challenge } = decodeClientDataJSON(clientDataJSON);
    return typeof challenge === 'string' && challenge.length > 0 && challenge.length <= 256 ? challenge : undefined;
  } catch {
    return undefined;
  }
}

/** Single-use WebAuthn challenges in the ephemeral store, bound to their ceremony. */
export function createPasskeyCeremonies(deps: PasskeyCeremonyDeps): PasskeyCeremonies {
  return {
    async begin(ceremony) {
      const stored: Ceremony = { ...ceremony, expiresAt: deps.now() + CEREMONY_LIFETIME_MS };
      await deps.store.set(keyOf(ceremony.challenge), JSON.stringify(stored), CEREMONY_LIFETIME_MS);
    },
    async take(clientDataJSON) {
      const challenge = challengeOf(clientDataJSON);
      if (challenge === undefined) return undefined;
      const raw = await deps.store.take(keyOf(challenge));
      if (raw === undefined) return undefined;
      const parsed = ceremonySchema.safeParse(JSON.parse(raw));
      // The store's own expiry, and ours for an injected clock (tests) or a store that keeps a key a little longer.
      if (!parsed.success || parsed.data.expiresAt <= deps.now() || parsed.data.challenge !== challenge) return undefined;
      return parsed.data;
    },
  };
}
