// Commands, replies and frames of protocol lrw.v1 against the fake server.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { LrwError, PROTOCOL } from '../dist/client.js';
import { startFakeServer } from './fake-server.mjs';
import { makeClients, waitFor, stateReached, httpPublish, recorder } from './helpers.mjs';

let server;
let client;
beforeEach(async () => {
  server = await startFakeServer();
  client = makeClients();
});
afterEach(async () => {
  client.closeAll();
  await server.close();
});

test('connects with lrw.v1 alone when there is no getToken, token-free URL', async () => {
  const c = client(server.wsUrl);
  const states = [];
  c.on('state', (s) => states.push(s));
  assert.equal(c.state, 'connecting');
  await stateReached(c, 'open');
  assert.deepEqual(c.sockets[0].protocols, [PROTOCOL]);
  assert.equal(server.handshakes[0].url, '/staging');
  assert.deepEqual(states, ['open']);
  c.close();
  assert.equal(c.state, 'closed');
  assert.deepEqual(states, ['open', 'closed']);
});

test('subscribe, publish from another client, message with offset and from', async () => {
  const a = client(server.wsUrl);
  const b = client(server.wsUrl);
  const rec = recorder();
  const sub = a.subscribe('lobby', rec);
  const reply = await sub.ready;
  assert.equal(reply.type, 'subscribed');
  assert.equal(reply.channel, 'lobby');
  assert.equal(reply.offset, 0);
  assert.equal(sub.state, 'subscribed');
  const p1 = await b.publish('lobby', { text: 'hi' });
  assert.equal(p1.type, 'published');
  assert.equal(p1.offset, 1);
  assert.equal(p1.recipients, 1);
  assert.equal(p1.delivered, 1);
  await httpPublish(server.httpUrl, 'lobby', 'plain text');
  await waitFor(() => rec.messages.length === 2, { what: 'two messages' });
  assert.deepEqual(rec.messages.map((m) => [m.offset, m.data]), [[1, { text: 'hi' }], [2, 'plain text']]);
  assert.equal(rec.messages[0].epoch, reply.epoch);
  assert.deepEqual(sub.position, { offset: 2, epoch: reply.epoch });
});

test('publish excludes the sender unless self:true; key makes a duplicate', async () => {
  const a = client(server.wsUrl);
  const rec = recorder();
  await a.subscribe('room-1', rec).ready;
  const r1 = await a.publish('room-1', 'not to me');
  assert.equal(r1.recipients, 0);
  const r2 = await a.publish('room-1', 'to me', { self: true });
  assert.equal(r2.recipients, 1);
  await waitFor(() => rec.messages.length === 1);
  assert.equal(rec.messages[0].data, 'to me');
  const k1 = await a.publish('room-1', 'once', { key: 'k-1' });
  const k2 = await a.publish('room-1', 'once', { key: 'k-1' });
  assert.equal(k2.duplicate, true);
  assert.equal(k2.offset, k1.offset);
});

test('presence answers connections and subjects', async () => {
  const a = client(server.wsUrl);
  const b = client(server.wsUrl);
  await a.subscribe('lobby').ready;
  await b.subscribe('lobby').ready;
  const p = await a.presence('lobby');
  assert.equal(p.type, 'presence');
  assert.equal(p.connections, 2);
  assert.deepEqual(p.subjects, []);
});

test('unsubscribe stops delivery and frees the channel name', async () => {
  const a = client(server.wsUrl);
  const b = client(server.wsUrl);
  const rec = recorder();
  const sub = a.subscribe('lobby', rec);
  await sub.ready;
  assert.throws(() => a.subscribe('lobby'), /already subscribed/);
  await sub.unsubscribe();
  assert.equal(sub.state, 'unsubscribed');
  assert.equal(server.channel('lobby').members.size, 0);
  await b.publish('lobby', 'after');
  const again = recorder();
  await a.subscribe('lobby', again).ready;
  await b.publish('lobby', 'again');
  await waitFor(() => again.messages.length === 1);
  assert.equal(rec.messages.length, 0);
  assert.equal(again.messages[0].offset, 2);
});

test('errors reject with an LrwError carrying the code; the connection stays', async () => {
  const a = client(server.wsUrl);
  await stateReached(a, 'open');
  assert.throws(() => a.subscribe('bad name!'), (e) => e instanceof LrwError && e.code === 400);
  await assert.rejects(a.publish('no*star', 1), (e) => e.code === 400);
  // A frame over 32 KiB would make API Gateway close the socket (1009): refused locally.
  await assert.rejects(a.publish('lobby', 'x'.repeat(40_000)), (e) => e.code === 413);
  // A 403 from the server: a token without publish grants.
  const tokenServer = await startFakeServer({ auth: 'token' });
  try {
    const t = tokenServer.mintToken({ sub: 'u1', channels: ['lobby'], exp: Math.floor(Date.now() / 1000) + 600 });
    const c = client(tokenServer.wsUrl, { getToken: () => t });
    await assert.rejects(c.publish('lobby', 'x'), (e) => e instanceof LrwError && e.code === 403);
    const errors = [];
    const refused = c.subscribe('secret', { onError: (e) => errors.push(e) });
    await assert.rejects(refused.ready, (e) => e.code === 403);
    assert.equal(refused.state, 'unsubscribed');
    assert.equal(errors.length, 1);
    assert.equal(c.getSubscription('secret'), undefined);
    await c.subscribe('lobby').ready;
    assert.equal(c.state, 'open');
  } finally {
    await tokenServer.close();
  }
  assert.equal(a.state, 'open');
  assert.equal(server.handshakes.length, 1);
});

test('frames that are not protocol frames are ignored', async () => {
  const a = client(server.wsUrl);
  const rec = recorder();
  await a.subscribe('lobby', rec).ready;
  const [conn] = server.connections();
  conn.ws.send('not json');
  conn.ws.send(JSON.stringify({ message: 'Internal server error', connectionId: conn.id, requestId: 'r1' }));
  conn.ws.send(JSON.stringify({ type: 'published', id: 'nobody-asked' }));
  conn.ws.send(JSON.stringify([1, 2, 3]));
  await httpPublish(server.httpUrl, 'lobby', 'ok');
  await waitFor(() => rec.messages.length === 1);
  assert.equal(a.state, 'open');
});

test('commands issued while connecting wait for the socket', async () => {
  const a = client(server.wsUrl);
  const reply = await a.publish('lobby', 'early');
  assert.equal(reply.offset, 1);
});

test('close() rejects what waits and stops reconnecting; connect() resumes with since', async () => {
  const a = client(server.wsUrl);
  const rec = recorder();
  const sub = a.subscribe('lobby', rec);
  await sub.ready;
  await httpPublish(server.httpUrl, 'lobby', 'one');
  await waitFor(() => rec.messages.length === 1);
  a.close();
  await assert.rejects(a.publish('lobby', 'x'), (e) => e.code === 'closed');
  await httpPublish(server.httpUrl, 'lobby', 'two');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(server.connections().length, 0);
  a.connect();
  await waitFor(() => rec.messages.length === 2, { what: 'replay after connect()' });
  const subscribes = server.frames.filter((f) => f.frame.action === 'subscribe');
  assert.deepEqual(subscribes.at(-1).frame.since, { offset: 1, epoch: server.channel('lobby').epoch });
});

test('commands run concurrently on the server: replies match by id; subscribe/unsubscribe of a channel stay in order', async () => {
  const jittery = await startFakeServer({ commandJitterMs: 40 });
  try {
    const a = client(jittery.wsUrl);
    const b = client(jittery.wsUrl);
    const first = a.subscribe('lobby');
    const gone = first.unsubscribe();
    const rec = recorder();
    const second = a.subscribe('lobby', rec);
    await Promise.all([gone, second.ready]);
    await assert.rejects(first.ready, (e) => e.code === 'unsubscribed');
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => b.publish(i % 2 ? 'lobby' : 'other', i)));
    assert.deepEqual(replies.map((r) => r.channel), Array.from({ length: 20 }, (_, i) => (i % 2 ? 'lobby' : 'other')));
    await waitFor(() => rec.messages.length === 10, { what: 'ten lobby messages' });
    assert.deepEqual(rec.messages.map((m) => m.offset), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual([...jittery.connections().find((c) => c.channels.size).channels], ['lobby']);
  } finally {
    await jittery.close();
  }
});
