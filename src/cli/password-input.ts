import { CommandError, EXIT } from './arguments.js';
import type { CliIo } from './cli-services.js';

/** Far above the policy's 1 KiB: the policy, not the reader, says a password is too long. */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * `--password-stdin`: the first line of stdin, without its line ending (`\n` or `\r\n`); nothing
 * else is trimmed, since spaces are legitimate password characters. Strict UTF-8.
 *
 * @example
 * // printf '%s\n' "$ADMIN_PASSWORD" | gatehouse users create admin --admin --password-stdin
 */
export async function readPasswordLine(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  let sawNewline = false;
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    const newline = buffer.indexOf(0x0a);
    chunks.push(newline === -1 ? buffer : buffer.subarray(0, newline));
    size += buffer.length;
    if (newline !== -1) {
      sawNewline = true;
      break;
    }
    if (size > MAX_LINE_BYTES) throw new CommandError(`the password line on stdin is longer than ${MAX_LINE_BYTES} bytes`);
  }
  const line = Buffer.concat(chunks);
  if (!sawNewline && line.length === 0) throw new CommandError('no password on stdin (--password-stdin reads one line)');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(line);
  } catch {
    throw new CommandError('the password on stdin is not valid UTF-8');
  }
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/** The operator pressed Ctrl-C or Ctrl-D at the prompt. */
export class PromptInterruptedError extends CommandError {
  constructor() {
    super('interrupted', 130);
  }
}

/**
 * Asks for a secret on the terminal without echoing it (raw mode). Backspace and Ctrl-U edit;
 * Ctrl-C / Ctrl-D abort; other control characters are ignored. The prompt goes to stderr, so
 * stdout stays clean for `--json`.
 */
export function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const { stdin } = io;
  if (stdin.isTTY !== true || stdin.setRawMode === undefined) {
    return Promise.reject(new CommandError('stdin is not a terminal: pipe the password and pass --password-stdin', EXIT.USAGE));
  }
  // Raw mode before the prompt shows: anything typed once it is visible is never echoed.
  stdin.setRawMode(true);
  io.stderr.write(prompt);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value: string[] = [];
    const finish = (outcome: () => void) => {
      stdin.off('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      outcome();
    };
    const onData = (chunk: string | Buffer) => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return finish(() => resolve(value.join('')));
        if (ch === '\u0003' || ch === '\u0004') return finish(() => reject(new PromptInterruptedError()));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch === '\u0015') value = [];
        else if (ch >= ' ') value.push(ch);
      }
      return undefined;
    };
    stdin.on('data', onData);
  });
}

/**
 * A new password typed twice at the terminal. `check` (the password policy) runs after the first
 * entry, so a refused password is asked again at once; three attempts, then CommandError.
 */
export async function promptNewPassword(io: CliIo, label: string, check: (password: string) => void): Promise<string> {
  for (let attempt = 1; attempt <= 3; attempt++) {
    const first = await promptHidden(io, `Password for ${label}: `);
    try {
      check(first);
    } catch (error) {
      io.stderr.write(`gatehouse: ${error instanceof Error ? error.message : String(error)}\n`);
      continue;
    }
    const second = await promptHidden(io, 'Repeat the password: ');
    if (first === second) return first;
    io.stderr.write('gatehouse: the passwords do not match\n');
  }
  throw new CommandError('no acceptable password after 3 attempts');
}
