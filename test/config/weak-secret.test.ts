import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { looksLikePlaceholder } from '../../src/config/weak-secret.js';
import { keyEncryptionKeyProblem } from '../../src/keys/key-encryption.js';

const random = (): string => randomBytes(32).toString('base64url');
/** A random 43-character value with `word` written over it at `at`, length unchanged. */
const withWord = (word: string, at: number): string => {
  const value = random();
  return value.slice(0, at) + word + value.slice(at + word.length);
};

describe('placeholder detection', () => {
  test('malicious: pasted examples are placeholders, whatever their length', () => {
    for (const value of [
      'change-me-change-me-change-me-change-me',
      'your-key-encryption-key-placeholder-value-here',
      'todo-todo-todo-todo-todo-todo-todo-todo-todo',
      'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
      withWord('password', 12),
      withWord('SECRET', 30),
    ]) {
      assert.equal(looksLikePlaceholder(value), true, value);
    }
  });

  test('a random value that happens to hold a short word is not (CI once refused a generated pepper for "todo")', () => {
    for (const value of [withWord('todo', 0), withWord('xxxx', 20), withWord('TODO', 39), `${withWord('todo', 3).slice(0, 30)}dummy${random().slice(0, 8)}`]) {
      assert.equal(looksLikePlaceholder(value), false, value);
      assert.equal(keyEncryptionKeyProblem(value), undefined, value);
    }
  });
});
