const json = { 'content-type': 'application/json' };

/**
 * Refresh chains for `seconds`: each client presents the refresh token its previous answer
 * returned, so Gatehouse rotates on every request. A server answering without a new one (the
 * seeds' app: its refresh token is a reusable JWT) gets the same token again. Any answer but 200
 * stops the bench: a figure counted over refusals would measure nothing.
 */
export async function refreshChains(url: string, firsts: readonly string[], seconds: number): Promise<{ count: number; lasts: string[] }> {
  let count = 0;
  const deadline = performance.now() + seconds * 1000;
  const lasts = await Promise.all(
    firsts.map(async (first) => {
      let token = first;
      while (performance.now() < deadline) {
        const res = await fetch(url, { method: 'POST', headers: json, body: JSON.stringify({ refresh_token: token }) });
        if (res.status !== 200) throw new Error(`${url}: refresh answered ${res.status} ${await res.text()}`);
        token = ((await res.json()) as { refresh_token?: string }).refresh_token ?? token;
        count += 1;
      }
      return token;
    }),
  );
  return { count, lasts };
}

/** `n` sessions of `username` by JSON login, one after another: the first refresh token of each chain. */
export async function loginChains(base: string, username: string, password: string, n: number): Promise<string[]> {
  const firsts: string[] = [];
  // In turn, not at once: with the default limits on, a burst of sign-ins from one address is refused.
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${base}/auth/login`, { method: 'POST', headers: json, body: JSON.stringify({ username, password }) });
    if (res.status !== 200) throw new Error(`${base}/auth/login answered ${res.status} ${await res.text()}`);
    firsts.push(((await res.json()) as { refresh_token: string }).refresh_token);
  }
  return firsts;
}
