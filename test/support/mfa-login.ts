import assert from 'node:assert/strict';
import { MFA_GRANT } from '../../src/oauth/token-request.js';
import { TEST_PASSWORD, type TestApp } from './test-app.js';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** The password step of an account with a second factor: 403 `mfa_required` and the challenge, never a token. */
export async function passwordStep(t: TestApp, username: string, extra: Record<string, string> = {}): Promise<string> {
  const res = await t.inject({
    method: 'POST',
    url: '/auth/token',
    headers: FORM,
    payload: new URLSearchParams({ grant_type: 'password', username, password: TEST_PASSWORD, ...extra }).toString(),
  });
  assert.equal(res.statusCode, 403, res.body);
  const body = res.json() as { error: string; mfa_challenge: string; access_token?: string };
  assert.equal(body.error, 'mfa_required');
  assert.equal(body.access_token, undefined);
  return body.mfa_challenge;
}

/** The factor step at the token endpoint (the MFA grant); the raw answer. */
export function factorStep(t: TestApp, challenge: string, proof: { otp: string } | { recovery_code: string }, extra: Record<string, string> = {}) {
  return t.inject({
    method: 'POST',
    url: '/auth/token',
    headers: FORM,
    payload: new URLSearchParams({ grant_type: MFA_GRANT, mfa_challenge: challenge, ...proof, ...extra }).toString(),
  });
}

/** Both steps: the tokens of a two-factor (AAL2) sign-in with `code` from the authenticator app. */
export async function twoFactorLogin(t: TestApp, username: string, code: string): Promise<{ access_token: string; refresh_token: string }> {
  const res = await factorStep(t, await passwordStep(t, username), { otp: code });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}
