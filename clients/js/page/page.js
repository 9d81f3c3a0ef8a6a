// The local gateway's page: join channels, see messages and members, publish.
// Plain DOM on top of the client bundle the gateway serves at /client.js.
import { Client } from './client.js';

const $ = (id) => document.getElementById(id);
const stateEl = $('state');
const notice = $('notice');
const channelInput = $('channel');
const target = $('target');
const messageInput = $('message');
const joinedList = $('joined');
const joinedEmpty = $('joined-empty');
const membersList = $('members');
const messagesList = $('messages');

const MAX_SHOWN = 500;
/** channel -> { sub, presence: {connections, subjects} | undefined } */
const joined = new Map();

function say(text) {
  notice.textContent = text;
}

/** `data` as text: a string as itself, any other JSON value compact. */
function asText(data) {
  return typeof data === 'string' ? data : JSON.stringify(data);
}

function showState(state) {
  stateEl.textContent = state;
  stateEl.dataset.state = state;
}

async function config() {
  const res = await fetch('config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`config.json: ${res.status}`);
  return res.json();
}

/** In token mode the page mints its own token (the local gateway's /tokens is open to it). */
function tokenGetter(httpUrl) {
  const subject = `page-${Math.random().toString(36).slice(2, 8)}`;
  return async () => {
    const res = await fetch(`${httpUrl}/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ channels: ['*'], publish: ['*'], subject }), // the gateway's default lifetime, never over its maximum
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok || typeof body.token !== 'string') throw new Error(`token: ${res.status} ${body.message ?? ''}`);
    return body.token;
  };
}

function addMessage(m) {
  const li = document.createElement('li');
  li.textContent = `${m.channel} #${m.offset}: ${asText(m.data)}`;
  if (m.from) li.title = `from ${m.from}`;
  messagesList.append(li);
  while (messagesList.children.length > MAX_SHOWN) messagesList.firstElementChild.remove();
}

function renderJoined() {
  joinedList.replaceChildren();
  const current = target.value;
  target.replaceChildren();
  for (const channel of joined.keys()) {
    const li = document.createElement('li');
    const name = document.createElement('span');
    name.textContent = channel;
    const leave = document.createElement('button');
    leave.type = 'button';
    leave.textContent = 'Leave';
    leave.setAttribute('aria-label', `Leave ${channel}`);
    leave.addEventListener('click', () => part(channel));
    li.append(name, ' ', leave);
    joinedList.append(li);
    const option = document.createElement('option');
    option.value = option.textContent = channel;
    target.append(option);
  }
  if (joined.has(current)) target.value = current;
  joinedEmpty.hidden = joined.size > 0;
  target.disabled = joined.size === 0;
  renderMembers();
}

function renderMembers() {
  membersList.replaceChildren();
  for (const [channel, entry] of joined) {
    const li = document.createElement('li');
    const p = entry.presence;
    if (!p) li.textContent = `${channel}: …`;
    else {
      const who = p.subjects.length ? `: ${p.subjects.join(', ')}` : '';
      li.textContent = `${channel}: ${p.connections} connection${p.connections === 1 ? '' : 's'}${who}`;
    }
    membersList.append(li);
  }
}

async function refreshPresence(channel) {
  const entry = joined.get(channel);
  if (!entry) return;
  try {
    entry.presence = await client.presence(channel);
    renderMembers();
  } catch (e) {
    say(`presence of ${channel}: ${e.message}`);
  }
}

function join(channel) {
  if (joined.has(channel)) {
    target.value = channel;
    return;
  }
  let sub;
  try {
    sub = client.subscribe(channel, {
      onMessage: addMessage,
      onSubscribed: () => refreshPresence(channel),
      onPresence: () => refreshPresence(channel),
      onRecoveryFailed: (info) => say(`${channel}: messages may be missing (${info.reason.replace('_', ' ')}); going on from #${info.current.offset}`),
      onError: (e) => {
        say(`${channel}: ${e.message} (${e.code})`);
        joined.delete(channel);
        renderJoined();
      },
    });
  } catch (e) {
    say(e.message);
    return;
  }
  joined.set(channel, { sub, presence: undefined });
  renderJoined();
  target.value = channel; // Publish goes to the channel joined last
}

async function part(channel) {
  const entry = joined.get(channel);
  if (!entry) return;
  joined.delete(channel);
  renderJoined();
  try {
    await entry.sub.unsubscribe();
  } catch (e) {
    say(`leave ${channel}: ${e.message}`);
  }
}

$('join-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const channel = channelInput.value.trim();
  if (!channel) return;
  say('');
  join(channel);
  channelInput.value = '';
});

$('publish-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const channel = target.value;
  if (!channel) {
    say('Join a channel first.');
    return;
  }
  const text = messageInput.value;
  if (text === '') return;
  say('');
  try {
    // self: our own message comes back with its offset like everyone else's.
    await client.publish(channel, text, { self: true });
    messageInput.value = '';
  } catch (e) {
    say(`publish to ${channel}: ${e.message} (${e.code})`);
  }
});

let client;
try {
  const cfg = await config();
  client = new Client(cfg.wsUrl, cfg.auth === 'token' ? { getToken: tokenGetter(cfg.httpUrl) } : {});
  showState(client.state);
  client.on('state', showState);
  client.on('error', (e) => console.warn('lambda-rust-websocket:', e));
  window.lrw = client; // for the console
} catch (e) {
  showState('closed');
  say(`cannot start: ${e.message}`);
}
