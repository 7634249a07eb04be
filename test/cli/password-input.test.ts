import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { CommandError } from '../../src/cli/arguments.js';
import { promptNewPassword, readPasswordLine } from '../../src/cli/password-input.js';
import type { CliIo } from '../../src/cli/cli-services.js';

const stdin = (...chunks: (string | Buffer)[]) => Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));

describe('readPasswordLine (--password-stdin)', () => {
  test('the first line, without its line ending; spaces kept; the rest ignored', async () => {
    assert.equal(await readPasswordLine(stdin('  correct horse  \nsecond line\n')), '  correct horse  ');
    assert.equal(await readPasswordLine(stdin('crlf password\r\n')), 'crlf password');
    assert.equal(await readPasswordLine(stdin('no newline at the end')), 'no newline at the end');
    assert.equal(await readPasswordLine(stdin('split ', 'across ', 'chunks\n')), 'split across chunks');
    assert.equal(await readPasswordLine(stdin('\n')), '');
  });

  test('empty stdin and invalid UTF-8 are refused', async () => {
    await assert.rejects(readPasswordLine(stdin()), /no password on stdin/);
    await assert.rejects(readPasswordLine(stdin(Buffer.from([0x70, 0xff, 0x0a]))), /not valid UTF-8/);
  });
});

describe('promptNewPassword (a terminal)', () => {
  /** A fake TTY that answers each prompt with the next entry, typed key by key. */
  function tty(entries: string[]): CliIo & { err: () => string; rawModes: boolean[] } {
    let err = '';
    const rawModes: boolean[] = [];
    const input = new Readable({ read() {} }) as Readable & { isTTY: boolean; setRawMode(mode: boolean): void };
    input.isTTY = true;
    input.setRawMode = (mode: boolean) => {
      rawModes.push(mode);
      if (mode) setImmediate(() => input.push(entries.shift() ?? '\u0003'));
    };
    return { stdin: input, stdout: { write: () => true }, stderr: { write: (t: string) => (err += t) }, env: {}, err: () => err, rawModes };
  }

  test('asked twice, hidden; backspace edits; a refused or mismatched entry is asked again', async () => {
    const io = tty([
      'short\r',
      'correct horse battery stapleX\u007f\r',
      'something else\r',
      'correct horse battery staple\r',
      'correct horse battery staple\r',
    ]);
    const check = (p: string) => {
      if (p.length < 15) throw new Error('password must be at least 15 characters');
    };
    assert.equal(await promptNewPassword(io, 'alice', check), 'correct horse battery staple');
    assert.match(io.err(), /Password for alice: \ngatehouse: password must be at least 15 characters\n/);
    assert.match(io.err(), /the passwords do not match/);
    assert.doesNotMatch(io.err(), /correct horse/);
    assert.equal(io.rawModes.at(-1), false);
  });

  test('Ctrl-C aborts (exit 130) and leaves the terminal out of raw mode', async () => {
    const io = tty(['\u0003']);
    await assert.rejects(
      promptNewPassword(io, 'alice', () => undefined),
      (e: unknown) => e instanceof CommandError && e.exitCode === 130,
    );
    assert.deepEqual(io.rawModes, [true, false]);
  });
});
