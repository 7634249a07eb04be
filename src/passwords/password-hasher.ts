/**
 * Password hashing: argon2id for every new hash, verification of argon2 and legacy bcrypt hashes,
 * and the rehash-on-login decision. Nothing hashes on the event loop: argon2 runs on the
 * low-priority threads of argon2-threads.ts, legacy bcrypt on the libuv threadpool.
 */
import { randomUUID } from 'node:crypto';
import type { Algorithm } from '@node-rs/argon2';
import { verify as bcryptVerify } from '@node-rs/bcrypt';
import { createArgon2Threads } from './argon2-threads.js';

/** One set of hashing threads per process, as the threadpool it replaces was. */
const argon2 = createArgon2Threads();

export interface PasswordHasherOptions {
  /** Argon2 `m`, in KiB. Default 19456 (19 MiB), the OWASP Password Storage Cheat Sheet minimum. */
  memoryCostKiB?: number;
  /** Argon2 `t`, passes over memory. Default 2. */
  timeCost?: number;
  /** Argon2 `p`, lanes. Default 1. */
  parallelism?: number;
}

interface Argon2Params {
  readonly algorithm: Algorithm.Argon2id;
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

interface ParsedArgon2Hash {
  readonly algorithm: 'argon2id' | 'argon2i' | 'argon2d';
  readonly version: number;
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/** `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (PHC string format; `v=` is absent for 1.0). */
const ARGON2_PHC = /^\$(argon2id|argon2i|argon2d)\$(?:v=(\d{1,3})\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const BCRYPT = /^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/;
const ARGON2_VERSION_1_3 = 19;
/** The binding's enum is an ambient `const enum`, which `verbatimModuleSyntax` cannot read. */
const ARGON2ID = 2 as Algorithm.Argon2id;
/** bcrypt reads at most this many bytes of the password and silently ignores the rest. */
const BCRYPT_MAX_BYTES = 72;

function parseArgon2(storedHash: string): ParsedArgon2Hash | undefined {
  const match = ARGON2_PHC.exec(storedHash);
  if (match === null) return undefined;
  const [, algorithm, version, m, t, p] = match;
  return {
    algorithm: algorithm as ParsedArgon2Hash['algorithm'],
    version: version === undefined ? 16 : Number(version),
    memoryCost: Number(m),
    timeCost: Number(t),
    parallelism: Number(p),
  };
}

function requireInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * @example
 * const hasher = new PasswordHasher();
 * const stored = await hasher.hash('correct horse battery staple');
 * if (await hasher.verify(stored, candidate) && hasher.needsRehash(stored)) { ...rehash... }
 */
export class PasswordHasher {
  readonly #params: Argon2Params;
  #dummyHash: Promise<string> | undefined;

  constructor(options: PasswordHasherOptions = {}) {
    const parallelism = requireInteger('parallelism', options.parallelism ?? 1, 1, 255);
    this.#params = Object.freeze({
      algorithm: ARGON2ID,
      // Argon2 requires at least 8 KiB per lane.
      memoryCost: requireInteger('memoryCostKiB', options.memoryCostKiB ?? 19456, 8 * parallelism, 2 ** 32 - 1),
      timeCost: requireInteger('timeCost', options.timeCost ?? 2, 1, 2 ** 32 - 1),
      parallelism,
    });
  }

  /** Hashes with argon2id; the whole password is used, never truncated. */
  async hash(password: string): Promise<string> {
    // NFKC so that the same visible password typed on another keyboard or OS (full-width forms,
    // composed vs decomposed accents) yields the same bytes (NIST SP 800-63B-4 §3.1.1.2).
    return argon2.hash(password.normalize('NFKC'), this.#params);
  }

  /**
   * Whether `password` matches `storedHash`. Never throws for a malformed or unknown stored hash:
   * that is a failed login (false), and the caller cannot tell it from a wrong password.
   */
  async verify(storedHash: string, password: string): Promise<boolean> {
    if (typeof storedHash !== 'string' || typeof password !== 'string') return false;
    const candidate = password.normalize('NFKC');
    try {
      if (parseArgon2(storedHash) !== undefined) {
        return await argon2.verify(storedHash, candidate);
      }
      if (BCRYPT.test(storedHash)) {
        // bcrypt ignores everything after the 72nd byte, so the legacy hash of a 72-byte prefix
        // would accept any longer password sharing that prefix. Refusing is the only safe answer;
        // a legacy user whose real password was longer than 72 bytes must reset it.
        if (Buffer.byteLength(candidate, 'utf8') > BCRYPT_MAX_BYTES) return false;
        return await bcryptVerify(candidate, storedHash);
      }
    } catch {
      // The native parsers reject hashes our shape checks let through (bad base64, absurd
      // parameters). Still a malformed stored hash: fail closed.
      return false;
    }
    return false;
  }

  /**
   * True when `storedHash` is anything this hasher would not produce today: bcrypt, argon2i or
   * argon2d, argon2 1.0, argon2id with other m/t/p, or an unrecognised string. Call it after a
   * successful `verify` and store `await hash(password)` when it returns true.
   */
  needsRehash(storedHash: string): boolean {
    const parsed = parseArgon2(storedHash);
    if (parsed === undefined) return true;
    return (
      parsed.algorithm !== 'argon2id' ||
      parsed.version !== ARGON2_VERSION_1_3 ||
      parsed.memoryCost !== this.#params.memoryCost ||
      parsed.timeCost !== this.#params.timeCost ||
      parsed.parallelism !== this.#params.parallelism
    );
  }

  /**
   * Spends the same time as verifying a wrong password against a current hash. Login calls it
   * when the user does not exist, so response time does not reveal which usernames are
   * registered (OWASP Authentication Cheat Sheet, "Authentication responses").
   */
  async dummyVerify(password: string): Promise<void> {
    // Computed once per hasher, with this hasher's parameters, from a secret nobody knows.
    this.#dummyHash ??= this.hash(randomUUID());
    let dummy: string;
    try {
      dummy = await this.#dummyHash;
    } catch (error) {
      this.#dummyHash = undefined; // do not cache a failure; let the next login retry
      throw error;
    }
    await this.verify(dummy, password);
  }
}
