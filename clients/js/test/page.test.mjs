// The page in a real headless Chromium, against the fake server, driven as a
// person would: labels, Enter, buttons. Skipped where no Chromium is installed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startFakeServer } from './fake-server.mjs';
import { findChromium, launch } from './browser.mjs';
import { makeClients, httpPublish } from './helpers.mjs';

const chromium = findChromium();
const skip = chromium ? false : 'no chromium on this machine (set CHROMIUM=/path to run it)';

let server;
let browser;
const client = makeClients();
before(async () => {
  if (skip) return;
  server = await startFakeServer({
    auth: 'token',
    page: { dir: new URL('../page/', import.meta.url), clientJs: fileURLToPath(new URL('../dist/client.js', import.meta.url)) },
  });
  browser = await launch(chromium);
}, { timeout: 30_000 });
after(async () => {
  client.closeAll();
  try {
    await browser?.close();
  } finally {
    await server?.close();
  }
}, { timeout: 15_000 });

const items = (id) => `[...document.querySelectorAll('#${id} li')].map((li) => li.textContent)`;

test('the page joins, publishes, lists messages and members, shows the state', { skip, timeout: 30_000 }, async () => {
  const b = browser;
  await b.goto(`${server.url}/`);
  await b.waitFor(`document.getElementById('state').textContent === 'open'`, { what: 'state open' });
  // The page minted its own token and offered it as a subprotocol.
  const hs = server.handshakes.at(-1);
  assert.equal(hs.protocols[0], 'lrw.v1');
  assert.match(hs.protocols[1], /^token\./);

  await b.type('Channel', 'lobby');
  await b.press('Enter');
  await b.waitFor(`${items('members')}.some((t) => t.startsWith('lobby: 1 connection: page-'))`, { what: 'own presence' });

  // Someone else joins: a join event refreshes the members.
  const token = server.mintToken({ sub: 'node-1', channels: ['*'], publish: ['*'], exp: Date.now() / 1000 + 600 });
  const other = client(server.wsUrl, { getToken: () => token });
  const received = [];
  await other.subscribe('lobby', { onMessage: (m) => received.push(m.data) }).ready;
  await b.waitFor(`${items('members')}.some((t) => t.startsWith('lobby: 2 connections') && t.includes('node-1'))`, { what: 'node-1 in members' });

  // Publish with one joined channel, by Enter in the Message field.
  await b.type('Message', 'hello from the page');
  await b.press('Enter');
  await b.waitFor(`${items('messages')}.includes('lobby #1: hello from the page')`, { what: 'own message listed' });
  await b.waitFor(`document.getElementById('message').value === ''`, { what: 'Message field cleared after the reply' });

  await other.publish('lobby', { n: 2 });
  await httpPublish(server.httpUrl, 'lobby', 'plain');
  await b.waitFor(`${items('messages')}.length === 3`, { what: 'three messages' });
  assert.deepEqual(await b.eval(items('messages')), ['lobby #1: hello from the page', 'lobby #2: {"n":2}', 'lobby #3: plain']);
  assert.deepEqual(received, ['hello from the page', 'plain']);

  // A second channel by the Join button; Publish goes to the last joined.
  await b.type('Channel', 'room-2');
  await b.click('Join');
  await b.waitFor(`document.getElementById('target').value === 'room-2'`);
  await b.type('Message', 'second room');
  await b.click('Publish');
  await b.waitFor(`${items('messages')}.includes('room-2 #1: second room')`, { what: 'room-2 message' });

  // The state follows the connection.
  server.dropAll();
  await b.waitFor(`document.getElementById('state').textContent === 'reconnecting'`, { what: 'reconnecting shown' });
  await httpPublish(server.httpUrl, 'lobby', 'while away');
  await b.waitFor(`document.getElementById('state').textContent === 'open'`, { timeout: 8_000, what: 'open again' });
  await b.waitFor(`${items('messages')}.includes('lobby #4: while away')`, { what: 'recovered message' });
  assert.equal(await b.eval(`document.querySelectorAll('#messages li').length`), 5);

  // Leave: no more messages of that channel.
  await b.click('Leave lobby');
  await b.waitFor(`!${items('joined')}.some((t) => t.startsWith('lobby'))`);
  await httpPublish(server.httpUrl, 'lobby', 'after leaving');
  await httpPublish(server.httpUrl, 'room-2', 'still here');
  await b.waitFor(`${items('messages')}.includes('room-2 #2: still here')`);
  assert.ok(!(await b.eval(items('messages'))).some((t) => t.includes('after leaving')));
  assert.deepEqual(b.console.filter((l) => l.startsWith('exception')), []);
});
