const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Every other spelling of a compact JWS that decodes to the same bytes: the last character of a
 * segment whose length is 2 or 3 (mod 4) has 4 or 2 unused bits, which decoders ignore (issue 19,
 * item 13). An Ed25519 signature (86 characters) alone gives 15.
 */
export function alternateSpellings(token: string): string[] {
  const segments = token.split('.');
  const spellings: string[] = [];
  segments.forEach((segment, i) => {
    const unused = segment.length % 4 === 2 ? 4 : segment.length % 4 === 3 ? 2 : 0;
    if (unused === 0) return;
    const value = ALPHABET.indexOf(segment.at(-1)!);
    for (let low = 1; low < 1 << unused; low++) {
      const spelt = [...segments];
      spelt[i] = segment.slice(0, -1) + ALPHABET[(value & ~((1 << unused) - 1)) | low];
      spellings.push(spelt.join('.'));
    }
  });
  return spellings;
}
