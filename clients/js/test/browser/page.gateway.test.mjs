// The page the real local gateway serves (http://127.0.0.1:PORT/), in
// Debian's headless Chromium driven by Playwright, used as a person would:
// by labels, roles, Enter and buttons. The gateway runs in tokens mode (the
// page mints its own token) with presence events on room-*. A second client
// is plain Node: a WebSocket speaking lrw.v1 with its own minted token.
//
// Leaves a screenshot in clients/js/test-output/page.png.
// Needs the gateway binary and Chromium; either missing fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import WebSocket from 'ws';
import { startGateway } from '../gateway/gateway.mjs';
import { launchChromium, newPage, outputPath } from './chromium.mjs';

let gw;
let browser;
let node;
before(async () => {
  gw = await startGateway(['--auth', 'token', '--presence-events', 'room-*']);
  browser = await launchChromium();
}, { timeout: 40_000 });
after(async () => {
  node?.close();
  try {
    await browser?.close();
  } finally {
    await gw?.close();
  }
}, { timeout: 20_000 });

/** A bare lrw.v1 client: frames in order, and a call() that awaits the reply to its id. */
async function lrwClient(url, token) {
  const ws = new WebSocket(url, ['lrw.v1', `token.${token}`]);
  const frames = [];
  const waiters = [];
  ws.on('message', (d) => {
    const f = JSON.parse(d.toString());
    frames.push(f);
    for (const w of [...waiters]) if (w.match(f)) w.resolve(f);
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  let id = 0;
  const next = (match, what, timeout = 5_000) => {
    const seen = frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const w = {
        match,
        resolve: (f) => {
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(w), 1);
          resolve(f);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(w), 1);
        reject(new Error(`node client: no ${what} within ${timeout} ms; frames: ${JSON.stringify(frames)}`));
      }, timeout);
      waiters.push(w);
    });
  };
  return {
    ws,
    frames,
    next,
    async call(command) {
      const frame = { ...command, id: String(++id) };
      ws.send(JSON.stringify(frame));
      return next((f) => f.id === frame.id, `reply to ${frame.action}`);
    },
    close: () => ws.close(),
  };
}

test('the gateway serves this page and the committed bundle (else: rebuild it, it embeds them at compile time)', async () => {
  const files = { '/': 'page/index.html', '/page.js': 'page/page.js', '/page.css': 'page/page.css', '/client.js': 'dist/client.js' };
  for (const [path, file] of Object.entries(files)) {
    const res = await fetch(`${gw.url}${path}`);
    assert.equal(res.status, 200, path);
    const served = await res.text();
    const local = await readFile(new URL(`../../${file}`, import.meta.url), 'utf8');
    assert.ok(served === local, `${path} is not clients/js/${file}: rebuild the gateway (cargo build -p local-gateway)`);
  }
  const config = await (await fetch(`${gw.url}/config.json`)).json();
  assert.deepEqual(config, { wsUrl: gw.wsUrl, httpUrl: gw.httpUrl, auth: 'token' });
});

test('the page on the real gateway: join, HTTP publish listed, Publish reaches a Node client, two members, connection state', { timeout: 60_000 }, async () => {
  const page = await newPage(browser);
  await page.goto(`${gw.url}/`);
  const state = page.getByRole('status');
  const messages = page.getByRole('list', { name: 'Messages' }).getByRole('listitem');
  const members = page.getByRole('list', { name: 'Members' }).getByRole('listitem');

  // The page minted its token and connected.
  await state.filter({ hasText: /^open$/ }).waitFor();

  // Join room-1 with the Channel field and Enter.
  await page.getByLabel('Channel', { exact: true }).fill('room-1');
  await page.getByLabel('Channel', { exact: true }).press('Enter');
  await members.filter({ hasText: /^room-1: 1 connection: page-\w+$/ }).waitFor();
  const pageSubject = /page-\w+/.exec(await members.first().textContent())[0];

  // A second client, in Node, with another subject: the page shows two members.
  const token = await gw.mint({ channels: ['room-*'], publish: ['room-*'], subject: 'node-2' });
  node = await lrwClient(gw.wsUrl, token);
  assert.equal(node.ws.protocol, 'lrw.v1');
  const subscribed = await node.call({ action: 'subscribe', channel: 'room-1' });
  assert.equal(subscribed.type, 'subscribed', JSON.stringify(subscribed));
  await members.filter({ hasText: /^room-1: 2 connections: / }).waitFor();
  const who = (await members.first().textContent()).replace(/^room-1: 2 connections: /, '').split(', ').sort();
  assert.deepEqual(who, ['node-2', pageSubject].sort());

  // An HTTP publish (curl -XPOST -d'hello from curl' …/channels/room-1) is listed with its channel and offset.
  const answer = await gw.publish('room-1', 'hello from curl');
  assert.equal(answer.offset, 1);
  await messages.filter({ hasText: 'room-1 #1: hello from curl' }).waitFor();
  await node.next((f) => f.type === 'message' && f.offset === 1, 'offset 1');

  // Typed in Message, sent with Publish: it reaches the Node client, from the page's subject.
  await page.getByLabel('Message', { exact: true }).fill('hello from the page');
  await page.getByRole('button', { name: 'Publish', exact: true }).click();
  const got = await node.next((f) => f.type === 'message' && f.offset === 2, 'the page’s message');
  assert.deepEqual(
    { channel: got.channel, data: got.data, from: got.from },
    { channel: 'room-1', data: 'hello from the page', from: pageSubject },
  );
  await messages.filter({ hasText: 'room-1 #2: hello from the page' }).waitFor(); // published with self: listed too
  assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), '', 'the field is cleared after the reply');

  // The Node client publishes over its socket: the page lists it.
  const published = await node.call({ action: 'publish', channel: 'room-1', data: { text: 'hi from node' } });
  assert.equal(published.offset, 3);
  await messages.filter({ hasText: 'room-1 #3: {"text":"hi from node"}' }).waitFor();
  assert.equal(await messages.nth(2).getAttribute('title'), 'from node-2');

  // The connection state follows the socket: the gateway drops the page's
  // connection (the first one subscribed to room-1), the page shows
  // reconnecting, then open, and recovers what was published meanwhile.
  const [pageConnection] = gw.connections({ channel: 'room-1' });
  await gw.drop(pageConnection);
  await state.filter({ hasText: /^reconnecting$/ }).waitFor();
  await gw.publish('room-1', 'while away');
  await state.filter({ hasText: /^open$/ }).waitFor({ timeout: 10_000 });
  await messages.filter({ hasText: 'room-1 #4: while away' }).waitFor();
  assert.deepEqual(await messages.allTextContents(), [
    'room-1 #1: hello from curl',
    'room-1 #2: hello from the page',
    'room-1 #3: {"text":"hi from node"}',
    'room-1 #4: while away',
  ]);
  await members.filter({ hasText: /^room-1: 2 connections: / }).waitFor();

  const shot = outputPath('page.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.equal(await page.getByRole('alert', { includeHidden: true }).textContent(), '', 'no notice shown');
  assert.deepEqual(page.problems, []);
});
