// The whole front end: no build step, the client's compiled ESM served from /client/.
import { GatehouseClient } from '/client/index.js';

// Knobs for the example's tests (?lockTimeoutMs=…&proactive=0); an app would just pick its values.
const query = new URLSearchParams(location.search);
const number = (name) => (query.has(name) ? Number(query.get(name)) : undefined);

const client = new GatehouseClient({
  baseUrl: `${location.origin}/identity`,
  clientId: 'spa',
  refreshTokenCookie: true,
  ...(number('lockTimeoutMs') === undefined ? {} : { lockTimeoutMs: number('lockTimeoutMs') }),
  ...(query.get('proactive') === '0' ? { proactiveRefresh: false } : {}),
});

const form = document.getElementById('sign-in');
const signedIn = document.getElementById('signed-in');
const output = document.getElementById('output');
const events = [];
const show = (isSignedIn) => {
  form.hidden = isSignedIn;
  signedIn.hidden = !isSignedIn;
};
for (const name of ['signed-in', 'refreshed', 'signed-out']) client.on(name, () => events.push(name));
client.on('signed-in', () => show(true));
client.on('signed-out', () => show(false));

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(form);
  client.signIn({ username: String(data.get('username')), password: String(data.get('password')) }).catch((error) => {
    output.textContent = `sign-in refused (${error.status})`;
  });
});
document.getElementById('load').addEventListener('click', () => {
  void client
    .fetch('/api/notes')
    .then((response) => response.json())
    .then((notes) => {
      output.textContent = JSON.stringify(notes, null, 2);
    });
});
document.getElementById('sign-out').addEventListener('click', () => client.signOut());

// A tab opened after sign-in has no access token yet: the cookie (if any) gets it one.
show(false);
const ready = client.refresh().then((token) => token !== undefined);

/** What the tests drive through page.evaluate. */
window.spa = {
  client,
  events,
  ready,
  async call(path) {
    const response = await client.fetch(path);
    return { status: response.status, body: await response.text() };
  },
};
