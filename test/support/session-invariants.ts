import pg from 'pg';

/**
 * What the database must hold after any fault (issue 17): every acknowledged user, and refresh
 * families no crash can leave half-written. Each check is a query for violations, so a failing
 * test prints the offending rows.
 */
export interface Violations {
  /** Users whose registration was answered 201 but who are not in `users`. */
  readonly lostUsers: readonly string[];
  /** Sessions holding more than one unspent refresh token (a forked family). */
  readonly sessionsWithTwoUnspent: readonly string[];
  /** Refresh tokens whose session row is missing. */
  readonly tokensWithoutSession: readonly string[];
  /** Refresh sessions without a token, or with a gap in their generations (a half-written create or rotation). */
  readonly brokenFamilies: readonly string[];
  /** Live refresh sessions whose newest token is spent or an older one unspent (a rotation half done). */
  readonly liveWithoutCurrentToken: readonly string[];
  /** Sessions whose `refresh.succeeded` audit rows do not number their rotations (newest generation). */
  readonly rotationAuditMismatch: readonly string[];
  /** Refresh sessions without exactly one `login.succeeded` audit row (written with the session). */
  readonly loginAuditMismatch: readonly string[];
}

export interface InvariantFigures {
  readonly users: number;
  readonly sessions: number;
  readonly rotations: number;
}

const QUERIES: Record<Exclude<keyof Violations, 'lostUsers'>, string> = {
  sessionsWithTwoUnspent: `SELECT session_id::text AS id FROM refresh_tokens WHERE spent_at IS NULL GROUP BY session_id HAVING count(*) > 1`,
  tokensWithoutSession: `SELECT rt.digest AS id FROM refresh_tokens rt LEFT JOIN sessions s ON s.id = rt.session_id WHERE s.id IS NULL`,
  brokenFamilies: `SELECT s.id::text AS id FROM sessions s LEFT JOIN refresh_tokens rt ON rt.session_id = s.id
    WHERE s.kind = 'refresh' GROUP BY s.id
    HAVING count(rt.digest) = 0 OR count(rt.digest) <> max(rt.generation) + 1 OR min(rt.generation) <> 0`,
  liveWithoutCurrentToken: `SELECT s.id::text AS id FROM sessions s JOIN refresh_tokens rt ON rt.session_id = s.id
    WHERE s.kind = 'refresh' AND s.revoked_at IS NULL GROUP BY s.id
    HAVING bool_or(rt.spent_at IS NULL AND rt.generation = (SELECT max(generation) FROM refresh_tokens WHERE session_id = s.id)) IS NOT TRUE
      OR bool_or(rt.spent_at IS NULL AND rt.generation < (SELECT max(generation) FROM refresh_tokens WHERE session_id = s.id))`,
  rotationAuditMismatch: `SELECT s.id::text AS id FROM sessions s
    WHERE s.kind = 'refresh'
      AND (SELECT count(*) FROM audit_events a WHERE a.session_id = s.id AND a.event = 'refresh.succeeded')
        <> (SELECT coalesce(max(generation), 0) FROM refresh_tokens WHERE session_id = s.id)`,
  loginAuditMismatch: `SELECT s.id::text AS id FROM sessions s
    WHERE s.kind = 'refresh' AND (SELECT count(*) FROM audit_events a WHERE a.session_id = s.id AND a.event = 'login.succeeded') <> 1`,
};

/** Runs every check on `databaseUrl`; `registered` are the usernames the clients saw created. */
export async function checkInvariants(databaseUrl: string, registered: readonly string[]): Promise<{ violations: Violations; figures: InvariantFigures }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const ids = async (text: string, values: unknown[] = []): Promise<string[]> => (await client.query<{ id: string }>(text, values)).rows.map((r) => r.id);
    const found = new Set(await ids(`SELECT username AS id FROM users WHERE username = ANY($1::text[])`, [registered]));
    const checked: Partial<Record<keyof Violations, string[]>> = { lostUsers: registered.filter((u) => !found.has(u)) };
    for (const [name, text] of Object.entries(QUERIES)) checked[name as keyof Violations] = await ids(text);
    const count = async (text: string): Promise<number> => Number((await client.query<{ n: string }>(text)).rows[0]?.n ?? 0);
    const figures = {
      users: await count('SELECT count(*) AS n FROM users'),
      sessions: await count(`SELECT count(*) AS n FROM sessions WHERE kind = 'refresh'`),
      rotations: await count(`SELECT count(*) AS n FROM audit_events WHERE event = 'refresh.succeeded'`),
    };
    return { violations: checked as Violations, figures };
  } finally {
    await client.end();
  }
}

/** The empty report every fault test expects. */
export const NO_VIOLATIONS: Violations = {
  lostUsers: [],
  sessionsWithTwoUnspent: [],
  tokensWithoutSession: [],
  brokenFamilies: [],
  liveWithoutCurrentToken: [],
  rotationAuditMismatch: [],
  loginAuditMismatch: [],
};
