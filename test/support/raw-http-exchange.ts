import net from 'node:net';

/** One HTTP/1.1 response as read off the socket. Header names are lower case; repeats are kept. */
export interface RawHttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, readonly string[]>>;
  readonly body: string;
  /** Status line, headers and body as received (latin1: every byte is one character). */
  readonly text: string;
}

export type RawHttpOutcome = { readonly kind: 'response'; readonly response: RawHttpResponse } | { readonly kind: 'no-response'; readonly reason: string };

const HEAD_END = Buffer.from('\r\n\r\n');

interface Head {
  readonly status: number;
  readonly headers: Record<string, string[]>;
  readonly bodyStart: number;
}

function parseHead(data: Buffer, end: number): Head {
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string[]> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    (headers[name] ??= []).push(line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine.split(' ')[1]), headers, bodyStart: end + HEAD_END.length };
}

/** The body once complete (Content-Length or chunked), else undefined; without either, the body runs to the close. */
function completeBody(head: Head, data: Buffer, closed: boolean): Buffer | undefined {
  const rest = data.subarray(head.bodyStart);
  const length = head.headers['content-length']?.[0];
  if (length !== undefined) return rest.length >= Number(length) ? rest.subarray(0, Number(length)) : closed ? rest : undefined;
  if (/chunked/i.test(head.headers['transfer-encoding']?.join(',') ?? '')) {
    const chunks: Buffer[] = [];
    let at = 0;
    for (;;) {
      const lineEnd = rest.indexOf('\r\n', at);
      if (lineEnd < 0) return closed ? Buffer.concat(chunks) : undefined;
      const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
      if (size === 0) return Buffer.concat(chunks);
      if (rest.length < lineEnd + 2 + size) return closed ? Buffer.concat(chunks) : undefined;
      chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      at = lineEnd + 2 + size + 2;
    }
  }
  return closed ? rest : undefined;
}

/**
 * Writes `request` as is on a fresh loopback connection and reads the first final response
 * (1xx interim responses are skipped). Hand-rolled on node:net because node:http's client
 * normalises what it sends (Host, header validation, request line), which is what a fuzzer
 * must be free to get wrong.
 */
export function rawHttpExchange(port: number, request: Buffer, timeoutMs: number): Promise<RawHttpOutcome> {
  return new Promise((resolve) => {
    let data = Buffer.alloc(0);
    let settled = false;
    const socket = net.connect(port, '127.0.0.1');
    const finish = (outcome: RawHttpOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const attempt = (closed: boolean) => {
      for (;;) {
        const end = data.indexOf(HEAD_END);
        if (end < 0) {
          if (closed)
            finish({
              kind: 'no-response',
              reason: data.length === 0 ? 'closed without a response' : `closed mid-head: ${JSON.stringify(data.toString('latin1').slice(0, 80))}`,
            });
          return;
        }
        const head = parseHead(data, end);
        if (head.status >= 100 && head.status < 200) {
          data = data.subarray(head.bodyStart);
          continue;
        }
        const body = completeBody(head, data, closed);
        if (body === undefined) return;
        const text = Buffer.concat([data.subarray(0, head.bodyStart), body]).toString('latin1');
        finish({ kind: 'response', response: { status: head.status, headers: head.headers, body: body.toString('utf8'), text } });
        return;
      }
    };
    const timer = setTimeout(() => finish({ kind: 'no-response', reason: `no complete response within ${timeoutMs} ms` }), timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      attempt(false);
    });
    socket.on('end', () => attempt(true));
    // A reset after a complete response changes nothing; before one, what arrived is all there is.
    socket.on('error', () => attempt(true));
    socket.on('close', () => attempt(true));
  });
}
