/**
 * Deterministic malformed HTTP requests for every operation of an OpenAPI document, as raw bytes.
 *
 * Each operation gets the same request set for the same seed: a catalogue of malformations per
 * family (credentials, path, query, content type, body, HTTP framing), of which a seeded PRNG
 * picks a fixed number, and picks the details (which field, which length, which bad byte).
 * Every case is built from a valid request, so one malformation at a time reaches as deep into
 * the server as it can. `expect: 'refuse'` marks cases any correct server must answer 4xx.
 */

export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly anyOf?: readonly JsonSchema[];
  readonly maxLength?: number;
  readonly maximum?: number;
  readonly format?: string;
  readonly additionalProperties?: unknown;
}

type MediaType = 'application/json' | 'application/x-www-form-urlencoded';

export interface FuzzOperation {
  readonly method: string;
  /** As in the document: `/admin/users/{id}`. */
  readonly path: string;
  readonly pathParams: readonly string[];
  readonly query: readonly { readonly name: string; readonly schema: JsonSchema }[];
  readonly body: { readonly mediaType: MediaType; readonly schema: JsonSchema } | undefined;
  readonly scopes: readonly string[] | undefined;
  /** `oauth` where the 4xx answers are RFC 6749 §5.2 bodies, `problem` where they are RFC 9457. */
  readonly errorStyle: 'problem' | 'oauth';
}

interface OpenApiOperation {
  readonly parameters?: readonly { readonly in: string; readonly name: string; readonly schema: JsonSchema }[];
  readonly requestBody?: { readonly content: Readonly<Record<string, { readonly schema: JsonSchema }>> };
  readonly security?: readonly Readonly<Record<string, readonly string[]>>[];
  readonly responses?: Readonly<Record<string, { readonly content?: Readonly<Record<string, { readonly schema: JsonSchema }>> }>>;
}

/** Every operation of an OpenAPI 3 document. */
export function operationsOf(document: { readonly paths: Readonly<Record<string, Readonly<Record<string, OpenApiOperation>>>> }): FuzzOperation[] {
  const out: FuzzOperation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const parameters = op.parameters ?? [];
      const [mediaType, content] = Object.entries(op.requestBody?.content ?? {})[0] ?? [];
      const refusal = Object.entries(op.responses ?? {}).find(([status]) => status.startsWith('4'))?.[1].content;
      const refusalSchema = Object.values(refusal ?? {})[0]?.schema;
      out.push({
        method: method.toUpperCase(),
        path,
        pathParams: parameters.filter((p) => p.in === 'path').map((p) => p.name),
        query: parameters.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema })),
        body: mediaType === undefined || content === undefined ? undefined : { mediaType: mediaType as MediaType, schema: content.schema },
        scopes: op.security?.flatMap((s) => Object.values(s).flat()),
        errorStyle: refusalSchema?.properties?.error !== undefined && refusalSchema.properties.code === undefined ? 'oauth' : 'problem',
      });
    }
  }
  return out;
}

/** A valid request for an operation, in values (the catalogue encodes them). */
export interface BaseRequest {
  readonly pathValues: Readonly<Record<string, string>>;
  readonly query: readonly (readonly [string, string])[];
  readonly body: Readonly<Record<string, unknown>> | undefined;
  /** The credential the operation needs (undefined on a public one). */
  readonly token: string | undefined;
  /** A valid token of a user this operation must refuse (not an admin, not the owner), if there is one. */
  readonly foreignToken: string | undefined;
  /** Path values naming another user's resource, which the base token must not reach. */
  readonly foreignPathValues?: Readonly<Record<string, string>>;
}

export interface MalformedCase {
  readonly family: string;
  readonly variant: string;
  readonly expect: 'refuse' | 'any';
  /**
   * The bytes to send, built from the case's base request at call time, so credentials are the
   * ones live when it runs. Call in order: the PRNG also picks details while building.
   */
  build(): BuiltCase;
}

export interface BuiltCase {
  /** A marker placed in the request (query, headers or body) that no response may contain. */
  readonly canary: string;
  readonly bytes: Buffer;
  /** The request line and, if short, the body: enough to reproduce by hand. */
  readonly summary: string;
}

/** mulberry32: a 32-bit seeded PRNG. A dependency for five lines that must never change their output is not worth it. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a: each operation's stream depends on its own name only, so adding a route does not reshuffle the others. */
export function stringSeed(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

interface Draft {
  method: string;
  version: string;
  path: string;
  query: string;
  /** Replaces path and query in the request line when set (absolute-form, asterisk-form). */
  target: string | undefined;
  headers: [string, string][];
  body: Buffer | undefined;
  autoLength: boolean;
}

interface Variant {
  readonly variant: string;
  readonly expect: 'refuse' | 'any';
  /** Always among the family's picks: the exact reproductions of defects found before. */
  readonly pinned?: boolean;
  /** `base` is the case's own valid request (a fresh name per case where a success creates something). */
  apply(draft: Draft, canary: string, base: BaseRequest): void;
}

interface Context {
  readonly op: FuzzOperation;
  readonly base: BaseRequest;
  readonly pick: <T>(items: readonly T[]) => T;
  readonly authority: string;
}

const protectedOp = (op: FuzzOperation): boolean => op.scopes !== undefined;
const setHeader = (d: Draft, name: string, value: string | undefined): void => {
  d.headers = d.headers.filter(([n]) => n.toLowerCase() !== name.toLowerCase());
  if (value !== undefined) d.headers.push([name, value]);
};
const v = (variant: string, expect: 'refuse' | 'any', apply: (d: Draft, canary: string, base: BaseRequest) => void): Variant => ({ variant, expect, apply });
const pinned = (variant: Variant): Variant => ({ ...variant, pinned: true });
const pinIf = (condition: boolean, variant: Variant): Variant => (condition ? pinned(variant) : variant);
const canaryParam = (d: Draft, text: string): void => void (d.query = [d.query, text].filter((s) => s !== '').join('&'));

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The same token with its signature's last base64url character spelling the same bytes another
 * way: a character carries 6 bits, and those past the last whole byte are unused (issue 19 item 13).
 */
function nonCanonical(token: string): string {
  const last = BASE64URL.indexOf(token.at(-1) ?? '');
  const signatureLength = token.length - token.lastIndexOf('.') - 1;
  if (last < 0 || (signatureLength * 6) % 8 === 0) return `${token}=`;
  return `${token.slice(0, -1)}${BASE64URL[last ^ 1]}`;
}

function authVariants({ op, base, pick }: Context): Variant[] {
  const guarded = protectedOp(op) ? 'refuse' : 'any';
  const token = base.token ?? 'eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.e30.c2ln';
  const auth = (value: string | undefined) => (d: Draft) => setHeader(d, 'Authorization', value);
  const out = [
    v('no Authorization', guarded, auth(undefined)),
    v('"Bearer" alone', guarded, auth('Bearer')),
    v('"Bearer " and spaces', guarded, auth('Bearer    ')),
    v('two Authorization headers', guarded, (d) => d.headers.push(['Authorization', `Bearer ${token}`])),
    v('two Authorization headers, one garbage', guarded, (d, c) => d.headers.push(['Authorization', `Bearer ${c}`])),
    v('JWT-looking garbage', guarded, (d, c) =>
      setHeader(
        d,
        'Authorization',
        `Bearer ${pick(['eyJhbGciOiJub25lIn0', 'eyJhbGciOiJIUzI1NiJ9', 'eyJ'])}.${Buffer.from(JSON.stringify({ sub: c })).toString('base64url')}.${pick(['', 'AAAA', '!!'])}`,
      ),
    ),
    v('"a.b.c"', guarded, auth('Bearer a.b.c')),
    v('Basic scheme', guarded, (d, c) => setHeader(d, 'Authorization', `Basic ${Buffer.from(`${c}:${c}`).toString('base64')}`)),
    v('token with a changed signature', guarded, auth(`Bearer ${token.slice(0, -12)}${token.at(-12) === 'A' ? 'B' : 'A'}${token.slice(-11)}`)),
    v('token with a non-canonical last character', guarded, auth(`Bearer ${nonCanonical(token)}`)),
    v('token with trailing garbage', guarded, auth(`Bearer ${token}${pick(['.', 'x', '..', ' x'])}`)),
    v('"Bearer Bearer <token>"', guarded, auth(`Bearer Bearer ${token}`)),
    v('8 KiB bearer', guarded, (d, c) => setHeader(d, 'Authorization', `Bearer ${c}${'A'.repeat(8192)}`)),
    v('token in the query as well', guarded, (d, c) => canaryParam(d, `access_token=${c}`)),
    v('token in the query only', guarded, (d) => {
      setHeader(d, 'Authorization', undefined);
      canaryParam(d, `access_token=${encodeURIComponent(token)}`);
    }),
    v('lower-case scheme', 'any', auth(`bearer ${token}`)),
  ];
  if (base.foreignToken !== undefined) out.push(v('valid token of a user this is not for', 'refuse', auth(`Bearer ${base.foreignToken}`)));
  return out;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function pathVariants({ op, base, pick }: Context): Variant[] {
  if (op.pathParams.length === 0) {
    const suffix = (variant: string, tail: string, expect: 'refuse' | 'any' = 'refuse') => v(variant, expect, (d) => (d.path += tail));
    return [
      // Issue 19: `/me%ff?access_token=SECRET` came back in Fastify's default body.
      pinned(
        v('%ff after the path, a token in the query', 'refuse', (d, c) => {
          d.path += '%ff';
          canaryParam(d, `access_token=${c}`);
        }),
      ),
      suffix('a lone % after the path', pick(['%', '/%', '%z'])),
      suffix('%zz after the path', '%zz'),
      suffix('%00 after the path', '%00'),
      suffix('/.. after the path', pick(['/..', '/../', '/%2e%2e', '/..%2f..%2fadmin'])),
      suffix('an encoded slash after the path', pick(['%2F', '%2f..', '%252F'])),
      v('the secret marker as an extra segment', 'refuse', (d, c) => (d.path += `/${c}`)),
      suffix('a trailing slash', '/', 'any'),
      v('a doubled leading slash', 'any', (d) => (d.path = `/${d.path}`)),
      suffix('a matrix parameter', ';jsessionid=1', 'any'),
      suffix('an encoded lone surrogate after the path', '%ED%A0%80'),
    ];
  }
  return op.pathParams.flatMap((param, i) => paramVariants(param, i === 0, base, pick));
}

function paramVariants(param: string, first: boolean, base: BaseRequest, pick: Context['pick']): Variant[] {
  const value = base.pathValues[param] ?? '';
  const idOnly: 'refuse' | 'any' = UUID.test(value) ? 'refuse' : 'any';
  const replace = (variant: string, by: (c: string) => string, expect: 'refuse' | 'any') =>
    v(`{${param}} ${variant}`, expect, (d, c) => {
      d.path = d.path.replace(encodeURIComponent(value), by(c));
    });
  const long = pick([65, 300]);
  const foreign = base.foreignPathValues?.[param];
  return [
    ...(foreign === undefined ? [] : [pinned(replace("another user's", () => encodeURIComponent(foreign), 'refuse'))]),
    replace(`${long} characters`, () => 'a'.repeat(long), 'refuse'),
    // Issue 19: over 100 characters got Fastify's default 414.
    pinIf(
      first,
      replace('101 characters', () => 'c'.repeat(101), 'refuse'),
    ),
    replace('4000 characters', () => 'b'.repeat(4000), 'refuse'),
    replace('not a UUID', () => pick(['not-a-uuid', '123', '0', '-1', 'null', 'undefined', '%20']), idOnly),
    replace('a UUID with a suffix', () => `${value}${pick(['x', '%20', '.json', '/'])}`, idOnly),
    replace('upper-case', () => encodeURIComponent(value.toUpperCase()), 'any'),
    replace('".."', () => pick(['..', '.', '%2e%2e', '%2E']), 'any'),
    replace('with an encoded slash', () => pick(['..%2F..%2Fhealthz', 'a%2Fb', '%2F', '%5C..%5C']), 'refuse'),
    replace('%ff', () => pick(['%ff', '%FF%FE', 'a%ffb']), 'refuse'),
    replace('a lone %', () => pick(['%', 'a%', '%4']), 'refuse'),
    replace('%zz', () => '%zz', 'refuse'),
    replace('%00', () => pick(['%00', `${value}%00`]), 'refuse'),
    replace('an encoded lone surrogate', () => pick(['%ED%A0%80', '%ED%B0%80']), 'refuse'),
    replace('an overlong UTF-8 encoding', () => pick(['%C0%AF', '%C0%AE%C0%AE']), 'refuse'),
    replace('the secret marker', (c) => c, idOnly),
    replace(
      'a random UUID',
      () => pick(['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '3f0c8a52-8a3e-4d59-9a57-0d6f1c2b7e41']),
      idOnly,
    ),
  ];
}

const stringLike = (schema: JsonSchema): boolean => schema.type === 'string' || (schema.anyOf ?? []).some((s) => s.type === 'string');

function queryVariants({ op, pick }: Context): Variant[] {
  // A route with a query schema refuses what it does not know (strict); one without ignores the query.
  const strict: 'refuse' | 'any' = op.query.length > 0 ? 'refuse' : 'any';
  const out = [
    v('an unknown parameter holding the secret marker', strict, (d, c) => canaryParam(d, `fuzz=${c}`)),
    v('a bad percent-encoding in an unknown parameter', strict, (d, c) => canaryParam(d, `${pick(['%ff', '%', '%zz', '%ED%A0%80'])}=${c}`)),
    v('a query of separators only', 'any', (d) => (d.query = pick(['&&&', '=', '&=&', '?'].filter((q) => q !== '?' || d.query === '')))),
    v('bracketed and prototype names', strict, (d, c) =>
      canaryParam(d, pick([`a[b]=${c}`, `__proto__=${c}`, `constructor[prototype][x]=${c}`, `__proto__[admin]=1`])),
    ),
    v('a 12 KiB query', 'any', (d, c) => canaryParam(d, `pad=${c}${'q'.repeat(12 * 1024)}`)),
  ];
  for (const { name, schema } of op.query) {
    const set = (value: string) => (d: Draft) =>
      (d.query = [...d.query.split('&').filter((p) => p !== '' && !p.startsWith(`${name}=`)), `${name}=${value}`].join('&'));
    out.push(
      v(`?${name} repeated`, 'refuse', (d) => canaryParam(d, `${name}=1&${name}=2`)),
      // Bytes that are not UTF-8 are refused everywhere else (paths, bodies), never guessed at.
      v(`?${name} with undecodable percent-encoded bytes`, 'refuse', set(pick(['%ff', 'a%C0%AF', '%fe%ff']))),
      v(`?${name} with a % that encodes nothing`, schema.type === 'integer' ? 'refuse' : 'any', set(pick(['%', '%zz', '1%']))),
    );
    if (schema.type === 'integer') {
      out.push(
        v(`?${name} out of range`, 'refuse', set(pick(['1e400', '99999999999999999999999', '-1', '1.5', 'NaN', 'Infinity', '9007199254740993', '-0.0000001']))),
      );
    } else if (stringLike(schema)) {
      out.push(
        v(`?${name} over its length`, 'refuse', set('s'.repeat((schema.maxLength ?? 256) + 1))),
        pinned(v(`?${name} with %00`, schema.format === undefined ? 'any' : 'refuse', set(pick(['a%00b', '%00'])))),
        v(`?${name} with an encoded lone surrogate`, schema.format === undefined ? 'any' : 'refuse', set(pick(['%ED%A0%80', 'a%ED%B0%80']))),
      );
      if (schema.format !== undefined)
        out.push(
          v(
            `?${name} not a ${schema.format}`,
            'refuse',
            set(pick(['garbage', '2024-02-30T00:00:00Z', '99999-01-01T00:00:00Z', '1', '00000000-0000-0000-0000-00000000000g'])),
          ),
        );
    }
  }
  return out;
}

function serializeBody(mediaType: MediaType, body: Readonly<Record<string, unknown>>): Buffer {
  if (mediaType === 'application/json') return Buffer.from(JSON.stringify(body));
  return Buffer.from(new URLSearchParams(Object.entries(body).map(([k, value]): [string, string] => [k, String(value)])).toString());
}

function contentTypeVariants({ op, pick }: Context): Variant[] {
  const ct = (variant: string, expect: 'refuse' | 'any', value: string | undefined) => v(variant, expect, (d) => setHeader(d, 'Content-Type', value));
  if (op.body === undefined) {
    const withBody = (variant: string, type: string, body: string) =>
      v(`a body on ${op.method}: ${variant}`, 'any', (d, c) => {
        setHeader(d, 'Content-Type', type);
        d.body = Buffer.from(body.replace('CANARY', c));
      });
    return [
      withBody('JSON', 'application/json', '{"token":"CANARY"}'),
      withBody('invalid JSON', 'application/json', pick(['{"a":', 'CANARY', '{"a":1}}'])),
      withBody('a form', 'application/x-www-form-urlencoded', 'a=CANARY&b=%ff'),
      withBody('text', 'text/plain', 'CANARY'),
      v(`a body on ${op.method} without a content type`, 'any', (d, c) => (d.body = Buffer.from(c))),
    ];
  }
  const other = op.body.mediaType === 'application/json' ? 'application/x-www-form-urlencoded' : 'application/json';
  return [
    ct('no Content-Type', 'refuse', undefined),
    ct('text/plain', 'refuse', 'text/plain'),
    ct(`${other} instead`, 'refuse', other),
    ct(
      'an unknown type',
      'refuse',
      pick(['application/xml', 'multipart/form-data; boundary=x', '*/*', 'application/jsonx', 'application/x-www-form-urlencodedx']),
    ),
    ct('an empty Content-Type', 'refuse', ''),
    v('two Content-Type headers', 'any', (d) => d.headers.push(['Content-Type', 'text/plain'])),
    ct('a charset parameter', 'any', `${op.body.mediaType}; charset=${pick(['utf-16', 'latin1', 'utf-8', '"utf-8"'])}`),
    ct('an upper-case type', 'any', op.body.mediaType.toUpperCase()),
  ];
}

interface Field {
  readonly name: string;
  readonly schema: JsonSchema;
}

/** The value with one lone surrogate: in place of the first U+FFFD (where a lenient decoder would land), else appended. */
const withLoneSurrogate = (value: string, surrogate: string): string =>
  value.includes('\uFFFD') ? value.replace('\uFFFD', surrogate) : `${value}${surrogate}`;

function jsonBodyVariants({ pick, op }: Context, fields: readonly Field[]): Variant[] {
  const json = (value: unknown) => JSON.stringify(value);
  const raw = (variant: string, expect: 'refuse' | 'any', text: (c: string, body: Readonly<Record<string, unknown>>) => string | Buffer) =>
    v(variant, expect, (d, c, b) => {
      const t = text(c, b.body ?? {});
      d.body = typeof t === 'string' ? Buffer.from(t) : t;
    });
  const first = fields[0]?.name ?? 'a';
  const out = [
    raw('invalid JSON', 'refuse', (c) =>
      pick([`{"${first}":"${c}"`, `{'a':'${c}'}`, `{"a":"${c}",}`, `${c}`, `{"a":1}{"b":"${c}"}`, `{"a":NaN,"b":"${c}"}`, `/*${c}*/{}`]),
    ),
    raw('a JSON body that is not an object', 'refuse', (c, body) => pick(['null', '[]', '42', `"${c}"`, 'true', `[${json(body)}]`])),
    raw('deep nesting', 'refuse', () => pick(['[', '{"a":']).repeat(pick([1000, 5000, 7000]))),
    raw('deep nesting inside a field', 'refuse', (_c, body) => json({ ...body, [first]: 0 }).replace(/0(?=[,}])/, `${'['.repeat(4000)}${']'.repeat(4000)}`)),
    raw('a body over the limit', 'refuse', (c, body) => json({ ...body, [first]: `${c}${'x'.repeat(pick([17_000, 70_000]))}` })),
    v('a Content-Length far over the limit, no body sent', 'refuse', (d) => {
      d.autoLength = false;
      d.body = undefined;
      d.headers.push(['Content-Length', pick(['1000000000000', '99999999'])]);
    }),
    raw('invalid UTF-8 in a string', 'refuse', (c) =>
      Buffer.concat([Buffer.from(`{"${first}":"${c}`), Buffer.from([pick([0xff, 0xc0, 0xed]), 0xa0, 0x80]), Buffer.from('"}')]),
    ),
    raw('an unknown field holding the secret marker', op.body?.schema.additionalProperties === false ? 'refuse' : 'any', (c, body) =>
      json({ ...body, fuzz: c }),
    ),
    raw('__proto__ and constructor keys', 'any', (_c, body) =>
      json(body).replace(/^\{/, '{"__proto__":{"admin":true,"roles":["admin"]},"constructor":{"prototype":{"polluted":1}},'),
    ),
    raw('a byte-order mark before the JSON', 'any', (_c, body) => `\uFEFF${json(body)}`),
    raw('an empty body', 'refuse', () => pick(['', ' ', '\r\n'])),
  ];
  if (fields.length > 0) {
    const dup = pick(fields);
    // The second value is harmless data (a success may store and show it), not a secret marker.
    out.push(raw(`"${dup.name}" twice`, 'any', (_c, body) => json(body).replace(/\}$/, `,"${dup.name}":${json(`${String(body[dup.name] ?? '')}2`)}}`)));
  }
  for (const field of fields) {
    const withField = (value: (current: string) => unknown) => (_c: string, body: Readonly<Record<string, unknown>>) =>
      json({ ...body, [field.name]: value(String(body[field.name] ?? '')) });
    const nullable = field.schema.anyOf?.some((s) => s.type === 'null') === true;
    out.push(
      raw(
        `"${field.name}" of the wrong type`,
        'refuse',
        withField((current) => pick([42, true, [], {}, [current], { $ne: null }])),
      ),
      raw(`"${field.name}" a huge number`, 'refuse', (_c, body) =>
        json(body).replace(json(String(body[field.name] ?? '')), pick(['1e400', '-1e400', '123456789012345678901234567890123456789', '1e-400'])),
      ),
      raw(
        `"${field.name}" over its length`,
        'refuse',
        withField(() => 'z'.repeat((field.schema.maxLength ?? 4096) + 1)),
      ),
      pinIf(
        field.name === 'username',
        raw(
          `"${field.name}" with a NUL`,
          field.name === 'username' ? 'refuse' : 'any',
          withField((current) => pick([`${current}\u0000`, `\u0000${current}`, `${current.slice(0, 1)}\u0000${current.slice(1)}`])),
        ),
      ),
      // JSON.stringify escapes lone surrogates as \udXXX, so the escape reaches the parser as written.
      pinIf(
        field.name.includes('password'),
        raw(
          `"${field.name}" with a lone surrogate`,
          'refuse',
          withField((current) => withLoneSurrogate(current, pick(['\ud800', '\udc00', '\udbff']))),
        ),
      ),
      raw(
        `"${field.name}" null`,
        nullable ? 'any' : 'refuse',
        withField(() => null),
      ),
      raw(
        `"${field.name}" with bidi and zero-width characters`,
        'any',
        withField((current) => `${current}\u202e\u200b\u2066`),
      ),
    );
  }
  return out;
}

function formBodyVariants({ pick }: Context, fields: readonly Field[]): Variant[] {
  const encoded = (value: Readonly<Record<string, unknown>>) => serializeBody('application/x-www-form-urlencoded', value).toString();
  const raw = (variant: string, expect: 'refuse' | 'any', text: (c: string, body: Readonly<Record<string, unknown>>) => string | Buffer) =>
    v(variant, expect, (d, c, b) => {
      const t = text(c, b.body ?? {});
      d.body = typeof t === 'string' ? Buffer.from(t) : t;
    });
  const out = [
    raw('a body over the limit', 'refuse', (c, body) => `${encoded(body)}&pad=${c}${'p'.repeat(pick([17_000, 70_000]))}`),
    v('a Content-Length far over the limit, no body sent', 'refuse', (d) => {
      d.autoLength = false;
      d.body = undefined;
      d.headers.push(['Content-Length', pick(['1000000000000', '99999999'])]);
    }),
    raw('separators only', 'refuse', () => pick(['&&&', '=', '', '=&=', '%'])),
    raw('invalid UTF-8 bytes', 'refuse', (_c, body) => Buffer.concat([Buffer.from(`${encoded(body)}&x=`), Buffer.from([0xff, 0xfe, 0xed, 0xa0, 0x80])])),
    raw(
      'bracketed and prototype names',
      'any',
      (c, body) => `${encoded(body)}&${pick([`__proto__[admin]=${c}`, `constructor[prototype][x]=${c}`, `a[]=${c}`])}`,
    ),
    raw('an unknown parameter holding the secret marker', 'any', (c, body) => `${encoded(body)}&fuzz=${c}`),
    raw('JSON in a form body', 'refuse', (c, body) => JSON.stringify({ ...body, fuzz: c })),
  ];
  for (const field of fields) {
    const withRaw = (value: (current: string) => string) => (_c: string, body: Readonly<Record<string, unknown>>) => {
      const without = encoded(Object.fromEntries(Object.entries(body).filter(([k]) => k !== field.name)));
      return [without, `${field.name}=${value(String(body[field.name] ?? ''))}`].filter((s) => s !== '').join('&');
    };
    const e = encodeURIComponent;
    out.push(
      raw(`${field.name} repeated`, 'refuse', (c, body) => `${encoded(body)}&${field.name}=${e(c)}`),
      pinIf(
        field.name === 'username',
        raw(
          `${field.name} with %00`,
          field.name === 'username' ? 'refuse' : 'any',
          withRaw((current) => pick([`${e(current)}%00`, 'a%00b', `%00${e(current)}`])),
        ),
      ),
      // In place of an encoded U+FFFD where there is one: a lenient decoder turns the surrogate into exactly that.
      pinIf(
        field.name.includes('password'),
        raw(
          `${field.name} with an encoded lone surrogate`,
          'refuse',
          withRaw((current) =>
            current.includes('\uFFFD') ? e(current).replace('%EF%BF%BD', '%ED%A0%80') : `${e(current)}${pick(['%ED%A0%80', '%ED%B0%80'])}`,
          ),
        ),
      ),
      raw(
        `${field.name} with a bad percent-encoding`,
        'refuse',
        withRaw((current) => `${e(current)}${pick(['%ff', '%C0%AF', '%fe%ff'])}`),
      ),
      raw(
        `${field.name} with a lone % or %zz`,
        'any',
        withRaw((current) => `${e(current)}${pick(['%', '%zz', '%4'])}`),
      ),
      raw(
        `${field.name} over its length`,
        'refuse',
        withRaw(() => 'z'.repeat((field.schema.maxLength ?? 4096) + 1)),
      ),
      raw(
        `${field.name} empty`,
        'any',
        withRaw(() => ''),
      ),
    );
  }
  return out;
}

function bodyVariants(ctx: Context): Variant[] {
  const { op, base } = ctx;
  if (op.body === undefined || base.body === undefined) return [];
  const properties = op.body.schema.properties ?? {};
  const fields = Object.keys(base.body).flatMap((name) => {
    const schema = properties[name];
    return schema !== undefined && stringLike(schema) ? [{ name, schema }] : [];
  });
  return op.body.mediaType === 'application/json' ? jsonBodyVariants(ctx, fields) : formBodyVariants(ctx, fields);
}

function framingVariants({ op, pick, authority }: Context): Variant[] {
  const line = (variant: string, expect: 'refuse' | 'any', apply: (d: Draft, c: string) => void) => v(variant, expect, apply);
  const hasBody = op.body !== undefined;
  return [
    pinned(line('no Host header', 'refuse', (d) => setHeader(d, 'Host', undefined))),
    // RFC 9112 §3.2: a server MUST answer 400 to a request with more than one Host.
    line('two Host headers', 'refuse', (d) => d.headers.push(['Host', 'other.example'])),
    line('a Host holding the secret marker', 'any', (d, c) => setHeader(d, 'Host', `${c.toLowerCase()}.example`)),
    // RFC 9110 §10.1.1: an unknown expectation MAY be refused with 417, or ignored.
    pinned(line('Expect: something', 'any', (d, c) => d.headers.push(['Expect', pick(['something', `${c}`, '100-continue, x'])]))),
    line('Expect: 100-continue', 'any', (d) => d.headers.push(['Expect', '100-continue'])),
    line('HTTP/1.0 without Host', 'any', (d) => {
      d.version = 'HTTP/1.0';
      setHeader(d, 'Host', undefined);
    }),
    line('a header value with a control character', 'refuse', (d, c) => d.headers.push(['X-Fuzz', `${c}${pick(['\u0001', '\u0000', '\u007f', '\r'])}x`])),
    line('a header name with a space or a bad character', 'refuse', (d, c) => d.headers.push([pick(['X Fuzz', 'X-Fuzz\u0000', 'X-Fü', '(x)']), c])),
    line('a header line without a colon', 'refuse', (d, c) => d.headers.push([`X-Fuzz-${c}`, '\u0000'])),
    line('an obs-fold continuation line', 'any', (d, c) => d.headers.push(['X-Fuzz', `a\r\n  ${c}`])),
    line(
      'an absolute-form request target',
      'any',
      (d) => (d.target = `http://${pick([authority, 'evil.example', `${authority}:99999`])}${d.path}${d.query === '' ? '' : `?${d.query}`}`),
    ),
    line('an asterisk-form request target', 'refuse', (d) => (d.target = '*')),
    line('a lower-case or unknown method', 'refuse', (d) => (d.method = pick([op.method.toLowerCase(), 'FUZZ', 'GE T', 'PRI']))),
    line('a malformed HTTP version', 'refuse', (d) => (d.version = pick(['HTTP/1.x', 'HTTPS/1.1', 'HTTP/1.1 x', 'HTTP/11']))),
    // RFC 9112 §2.3: a server may answer 505 to a version it does not support, or serve it as 1.1.
    line('another HTTP version', 'any', (d) => (d.version = pick(['HTTP/2.0', 'HTTP/0.9', 'HTTP/1.9']))),
    line('a request target over 16 KiB', 'refuse', (d, c) => (d.query = `${d.query}&pad=${c}${'u'.repeat(17 * 1024)}`)),
    line('Content-Length and Transfer-Encoding together', 'refuse', (d, c) => {
      d.autoLength = false;
      d.body = Buffer.from(`5\r\n${c.slice(0, 5)}\r\n0\r\n\r\n`);
      d.headers.push(['Content-Length', '3'], ['Transfer-Encoding', 'chunked']);
    }),
    line('two different Content-Length headers', 'refuse', (d) => {
      d.autoLength = false;
      d.body = d.body ?? Buffer.from('{}');
      d.headers.push(['Content-Length', String(d.body.length)], ['Content-Length', String(d.body.length + 1)]);
    }),
    line('a malformed Content-Length', 'refuse', (d) => {
      d.autoLength = false;
      d.headers.push(['Content-Length', pick(['-1', '1e3', '0x10', '5, 6', ' ', 'abc'])]);
    }),
    line('a bad chunk size', 'refuse', (d, c) => {
      d.autoLength = false;
      d.headers.push(['Transfer-Encoding', 'chunked']);
      d.body = Buffer.from(`${pick(['zz', '-1', 'fffffffffffffffffff'])}\r\n${c}\r\n0\r\n\r\n`);
    }),
    line(`a chunked ${hasBody ? 'body' : 'body on a bodyless operation'}`, 'any', (d) => {
      d.autoLength = false;
      d.headers.push(['Transfer-Encoding', 'chunked']);
      const body = d.body ?? Buffer.alloc(0);
      d.body = Buffer.concat([
        body.length > 0 ? Buffer.from(`${body.length.toString(16)}\r\n`) : Buffer.alloc(0),
        body,
        Buffer.from(body.length > 0 ? '\r\n0\r\n\r\n' : '0\r\n\r\n'),
      ]);
    }),
  ];
}

const FAMILIES: readonly { readonly name: string; readonly quota: number; readonly variants: (ctx: Context) => Variant[] }[] = [
  { name: 'auth', quota: 8, variants: authVariants },
  { name: 'path', quota: 8, variants: pathVariants },
  { name: 'query', quota: 7, variants: queryVariants },
  { name: 'content-type', quota: 5, variants: contentTypeVariants },
  { name: 'body', quota: 24, variants: bodyVariants },
  { name: 'framing', quota: 12, variants: framingVariants },
];

/** Requests per operation when the catalogue holds enough for it. */
export const CASES_PER_OPERATION = FAMILIES.reduce((n, f) => n + f.quota, 0);

function sample<T>(items: readonly T[], count: number, random: () => number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < count && pool.length > 0) out.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return out;
}

function draftOf(op: FuzzOperation, base: BaseRequest, authority: string, canary: string): Draft {
  let path = op.path;
  for (const name of op.pathParams) path = path.replace(`{${name}}`, encodeURIComponent(base.pathValues[name] ?? ''));
  const headers: [string, string][] = [
    ['Host', authority],
    ['User-Agent', 'gatehouse-operation-fuzz'],
    ['X-Fuzz-Canary', canary],
    ['Connection', 'close'],
  ];
  if (base.token !== undefined) headers.push(['Authorization', `Bearer ${base.token}`]);
  let body: Buffer | undefined;
  if (op.body !== undefined && base.body !== undefined) {
    headers.push(['Content-Type', op.body.mediaType]);
    body = serializeBody(op.body.mediaType, base.body);
  }
  const query = new URLSearchParams(base.query.map(([k, value]): [string, string] => [k, value])).toString();
  return { method: op.method, version: 'HTTP/1.1', path, query, target: undefined, headers, body, autoLength: true };
}

function bytesOf(d: Draft): Buffer {
  const target = d.target ?? `${d.path}${d.query === '' ? '' : `?${d.query}`}`;
  const headers = [...d.headers];
  if (d.autoLength && d.body !== undefined) headers.push(['Content-Length', String(d.body.length)]);
  // A name without a value is written as a bare line: the "header without a colon" case.
  const lines = headers.map(([name, value]) => (value === '\u0000' ? name : `${name}: ${value}`));
  return Buffer.concat([Buffer.from(`${d.method} ${target} ${d.version}\r\n${lines.join('\r\n')}\r\n\r\n`, 'utf8'), d.body ?? Buffer.alloc(0)]);
}

/** The request line, the header lines the malformation added or removed, and a short body. */
function summaryOf(before: readonly (readonly [string, string])[], draft: Draft, bytes: Buffer): string {
  const shorten = (text: string, n: number) => (text.length > n ? `${text.slice(0, n)}…(${text.length} bytes)` : text);
  const text = bytes.toString('utf8');
  // Both ends: two credentials differ at the end as often as at the start.
  const line = (h: readonly [string, string]) => {
    const full = `${h[0]}: ${h[1]}`;
    return JSON.stringify(full.length > 64 ? `${full.slice(0, 36)}…${full.slice(-24)}` : full);
  };
  const key = (h: readonly [string, string]) => `${h[0]}\u0000${h[1]}`;
  const had = new Set(before.map(key));
  const has = new Set(draft.headers.map(key));
  const changes = [
    ...draft.headers.filter((h) => !had.has(key(h))).map((h) => `+${line(h)}`),
    ...before.filter((h) => !has.has(key(h))).map((h) => `-${line(h)}`),
  ];
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  return [shorten(text.slice(0, text.indexOf('\r\n')), 160), ...changes, body === '' ? '' : `body ${JSON.stringify(shorten(body, 120))}`]
    .filter((s) => s !== '')
    .join(' ');
}

export interface CaseOptions {
  readonly seed: number;
  /** Makes the secret markers unique across operations (an answer may show what an earlier request stored). */
  readonly operationIndex: number;
  /** host:port of the server, for Host and absolute-form targets. */
  readonly authority: string;
  /** A valid request for case number `index` (fresh names where a success creates something). */
  readonly base: (index: number) => BaseRequest;
}

/**
 * The malformed requests for one operation: per family, `quota` variants picked by the seeded
 * PRNG (families with too few hand their share on), each applied to its own valid base request.
 */
export function malformedRequests(op: FuzzOperation, options: CaseOptions): MalformedCase[] {
  const random = seededRandom(stringSeed(`${op.method} ${op.path}`, options.seed));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  // Variants are listed against the first base; each case then runs on its own base request.
  const ctx: Context = { op, base: options.base(0), pick, authority: options.authority };
  const pools = FAMILIES.map((f) => ({ name: f.name, quota: f.quota, variants: f.variants(ctx) }));
  let spare = 0;
  const chosen: { family: string; variant: Variant }[] = [];
  for (const pool of pools) {
    const pins = pool.variants.filter((x) => x.pinned === true);
    const taken = [
      ...pins,
      ...sample(
        pool.variants.filter((x) => x.pinned !== true),
        pool.quota - pins.length,
        random,
      ),
    ];
    spare += pool.quota - taken.length;
    pool.variants = pool.variants.filter((x) => !taken.includes(x));
    chosen.push(...taken.map((variant) => ({ family: pool.name, variant })));
  }
  for (const pool of pools) {
    const taken = sample(pool.variants, spare, random);
    spare -= taken.length;
    chosen.push(...taken.map((variant) => ({ family: pool.name, variant })));
  }
  return chosen.map(({ family, variant }, i) => ({
    family,
    variant: variant.variant,
    expect: variant.expect,
    build() {
      const canary = `SECRET-CANARY-${String(options.operationIndex).padStart(2, '0')}-${String(i).padStart(3, '0')}`;
      const base = options.base(i);
      const draft = draftOf(op, base, options.authority, canary);
      const before = [...draft.headers];
      variant.apply(draft, canary, base);
      const bytes = bytesOf(draft);
      return { canary, bytes, summary: summaryOf(before, draft, bytes) };
    },
  }));
}
