import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * The part of a client address that names one client for throttling. IPv4: the address. IPv6: its
 * /64, because one subscriber is routinely given a whole /64 and could otherwise use a fresh
 * address for every attempt. IPv4-mapped IPv6 (`::ffff:192.0.2.1`, a dual-stack socket) is the
 * IPv4 address it carries. Anything else (no address at all) is kept as is.
 *
 * @example
 * addressKey('2001:db8:1:2:aaaa::1'); // '2001:db8:1:2::/64'
 */
export function addressKey(ip: string): string {
  const address = ip.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  if (isIPv4(address) || !isIPv6(address)) return address;
  const groups = expandIPv6(address);
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and a trailing dotted quad expanded). */
function expandIPv6(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  if (tail === undefined) return parse(head);
  const front = parse(head);
  const back = parse(tail);
  return [...front, ...Array<number>(8 - front.length - back.length).fill(0), ...back];
}

/**
 * A store key for a throttling identity: SHA-256 over the parts, NUL-separated, base64url (128
 * bits). Raw usernames never become Redis keys (people type passwords into that field, and key
 * listings end up in tickets); the hash is not a secret against someone who can guess the input.
 *
 * @example
 * throttleKey('user-ip', usernameKey('Alice'), addressKey(request.ip));
 */
export function throttleKey(...parts: readonly string[]): string {
  return createHash('sha256').update(parts.join('\0'), 'utf8').digest('base64url').slice(0, 22);
}
