/** Registers the bench's user on a Gatehouse server at `base`; throws unless it was created (201). */
export async function registerBenchUser(base: string, username: string, password: string): Promise<void> {
  const res = await fetch(`${base}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status}`);
}
