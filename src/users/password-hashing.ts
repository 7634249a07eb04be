/** What the user use cases need from the password hasher (implemented in src/passwords). */
export interface PasswordHashing {
  hash(password: string): Promise<string>;
  verify(storedHash: string, password: string): Promise<boolean>;
  needsRehash(storedHash: string): boolean;
  /** Spends the time of one verification, so unknown users cost what wrong passwords cost. */
  dummyVerify(password: string): Promise<void>;
}
