/**
 * The JSON body of a 200 answer from the issuer, refusing anything else and anything larger than
 * `maxChars` (declared or actual), so a misbehaving issuer cannot make us buffer without bound.
 */
export async function readBoundedJson(response: Response, maxChars: number, what: string): Promise<unknown> {
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new Error(`${what} answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxChars) {
    await response.body?.cancel();
    throw new Error(`${what} response too large`);
  }
  const text = await response.text();
  if (text.length > maxChars) throw new Error(`${what} response too large`);
  return JSON.parse(text) as unknown;
}
