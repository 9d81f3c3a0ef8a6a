// The page (clients/js/page, served by the fake server with the committed
// dist/client.js) in Debian's headless Chromium driven by Playwright: join by
// Enter and by Join, publish by Enter and by Publish, the members after a
// join event, the state through a drop, recovery, Leave. The fake server lets
// this test drop every socket at once; page.gateway.test.mjs runs the page
// on the real gateway. Needs Chromium; a missing one fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startFakeServer } from '../fake-server.mjs';
import { makeClients, httpPublish } from '../helpers.mjs';
import { launchChromium, newPage } from './chromium.mjs';

let server;
let browser;
const client = makeClients();
before(async () => {
  server = await startFakeServer({
    auth: 'token',
    page: { dir: new URL('../../page/', import.meta.url), clientJs: fileURLToPath(new URL('../../dist/client.js', import.meta.url)) },
  });
  browser = await launchChromium();
}, { timeout: 40_000 });
after(async () => {
  client.closeAll();
  try {
    await browser?.close();
  } finally {
    await server?.close();
  }
}, { timeout: 15_000 });

test('the page joins, publishes, lists messages and members, shows the state, leaves (fake server)', { timeout: 60_000 }, async () => {
  const page = await newPage(browser);
  await page.goto(`${server.url}/`);
  const state = page.getByRole('status');
  const messages = page.getByRole('list', { name: 'Messages' }).getByRole('listitem');
  const members = page.getByRole('list', { name: 'Members' }).getByRole('listitem');
  const joined = page.getByRole('list', { name: 'Joined' }).getByRole('listitem');
  const channel = page.getByLabel('Channel', { exact: true });
  const message = page.getByLabel('Message', { exact: true });

  await state.filter({ hasText: /^open$/ }).waitFor();
  // The page minted its own token and offered it as a subprotocol.
  const hs = server.handshakes.at(-1);
  assert.equal(hs.protocols[0], 'lrw.v1');
  assert.match(hs.protocols[1], /^token\./);

  await channel.fill('lobby');
  await channel.press('Enter');
  await members.filter({ hasText: /^lobby: 1 connection: page-/ }).waitFor();

  // Someone else joins: a join event refreshes the members.
  const token = server.mintToken({ sub: 'node-1', channels: ['*'], publish: ['*'], exp: Date.now() / 1000 + 600 });
  const other = client(server.wsUrl, { getToken: () => token });
  const received = [];
  await other.subscribe('lobby', { onMessage: (m) => received.push(m.data) }).ready;
  await members.filter({ hasText: /^lobby: 2 connections.*node-1/ }).waitFor();

  // Publish with one joined channel, by Enter in the Message field.
  await message.fill('hello from the page');
  await message.press('Enter');
  await messages.filter({ hasText: 'lobby #1: hello from the page' }).waitFor();
  await page.waitForFunction(() => document.getElementById('message').value === '');

  await other.publish('lobby', { n: 2 });
  await httpPublish(server.httpUrl, 'lobby', 'plain');
  await messages.nth(2).waitFor();
  assert.deepEqual(await messages.allTextContents(), ['lobby #1: hello from the page', 'lobby #2: {"n":2}', 'lobby #3: plain']);
  assert.deepEqual(received, ['hello from the page', 'plain']);

  // A second channel by the Join button; Publish goes to the last joined.
  await channel.fill('room-2');
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.waitForFunction(() => document.getElementById('target').value === 'room-2');
  assert.equal(await page.getByLabel('Publish to').inputValue(), 'room-2');
  await message.fill('second room');
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  await messages.filter({ hasText: 'room-2 #1: second room' }).waitFor();

  // The state follows the connection.
  server.dropAll();
  await state.filter({ hasText: /^reconnecting$/ }).waitFor();
  await httpPublish(server.httpUrl, 'lobby', 'while away');
  await state.filter({ hasText: /^open$/ }).waitFor();
  await messages.filter({ hasText: 'lobby #4: while away' }).waitFor();
  assert.equal(await messages.count(), 5);

  // Leave: no more messages of that channel.
  await page.getByRole('button', { name: 'Leave lobby' }).click();
  await joined.filter({ hasText: /^lobby/ }).waitFor({ state: 'detached' });
  await httpPublish(server.httpUrl, 'lobby', 'after leaving');
  await httpPublish(server.httpUrl, 'room-2', 'still here');
  await messages.filter({ hasText: 'room-2 #2: still here' }).waitFor();
  assert.ok(!(await messages.allTextContents()).some((t) => t.includes('after leaving')));
  assert.deepEqual(page.problems, []);
});
