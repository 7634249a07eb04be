// Passkeys on the hosted pages: the one script they run (CSP script-src 'self'; no inline script).
// Every request is same-origin JSON, so the CSRF layers (Sec-Fetch-Site, JSON content type) pass it.
'use strict';

async function postJson(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = response.status === 204 ? {} : await response.json();
  return { ok: response.ok, answer };
}

function say(id, text) {
  const node = document.getElementById(id);
  if (node !== null) {
    node.textContent = text;
    node.hidden = false;
  }
}

async function signInWithPasskey(button) {
  try {
    const options = await postJson('/auth/passkeys/options', {});
    if (!options.ok) return say('passkey-error', 'Passkey sign-in is not available right now.');
    const credential = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.answer) });
    const verified = await postJson('/auth/passkeys/verify', { response: credential.toJSON(), mode: 'cookie' });
    if (!verified.ok) return say('passkey-error', 'That passkey was not accepted.');
    window.location.assign(button.dataset.returnTo || '/account');
  } catch {
    say('passkey-error', 'No passkey was used.');
  }
}

async function addPasskey() {
  try {
    const options = await postJson('/me/passkeys/options', {});
    if (!options.ok) return say('passkey-status', 'A passkey cannot be added now. Sign in again (with your passkey if you have one), then retry.');
    const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.answer) });
    const label = document.getElementById('passkey-label');
    const stored = await postJson('/me/passkeys', { response: credential.toJSON(), label: label === null ? undefined : label.value });
    if (!stored.ok) return say('passkey-status', 'That passkey was not accepted.');
    window.location.reload();
  } catch {
    say('passkey-status', 'No passkey was added.');
  }
}

async function removePasskey(id) {
  try {
    const response = await fetch(`/me/passkeys/${encodeURIComponent(id)}`, { method: 'DELETE', credentials: 'same-origin' });
    if (response.ok) return window.location.reload();
  } catch {
    // Reported below, like a refusal.
  }
  say('passkey-status', 'That passkey could not be removed. Sign in again (with your passkey if you have one), then retry.');
}

document.addEventListener('DOMContentLoaded', () => {
  if (typeof PublicKeyCredential === 'undefined') return;
  for (const node of document.querySelectorAll('[data-passkeys]')) node.hidden = false;
  document.getElementById('passkey-sign-in')?.addEventListener('click', (event) => void signInWithPasskey(event.currentTarget));
  document.getElementById('passkey-add')?.addEventListener('click', () => void addPasskey());
  for (const button of document.querySelectorAll('[data-remove-passkey]')) {
    button.addEventListener('click', () => void removePasskey(button.dataset.removePasskey));
  }
});
