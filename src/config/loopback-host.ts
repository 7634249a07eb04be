import { isIP } from 'node:net';

/** Loopback addresses and names: a listener bound anywhere else is reachable from the network. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}
