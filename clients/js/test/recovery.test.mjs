// Offsets, epochs and since: reconnects, gaps, holes, lost history.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startFakeServer } from './fake-server.mjs';
import { makeClients, waitFor, stateReached, httpPublish, recorder, contiguous, sleep } from './helpers.mjs';

let server;
let client;
beforeEach(async () => {
  client = makeClients();
});
afterEach(async () => {
  client.closeAll();
  await server?.close();
  server = undefined;
});

const subscribes = (channel) => server.frames.filter((f) => f.frame.action === 'subscribe' && f.frame.channel === channel).map((f) => f.frame);

test('reconnects after the server drops the socket and recovers what was published meanwhile', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl);
  const states = [];
  c.on('state', (s) => states.push(s));
  const rec = recorder();
  const failures = [];
  await c.subscribe('lobby', { ...rec, onRecoveryFailed: (i) => failures.push(i) }).ready;
  for (let i = 1; i <= 3; i++) await httpPublish(server.httpUrl, 'lobby', `m${i}`);
  await waitFor(() => rec.messages.length === 3);
  server.dropAll();
  await stateReached(c, 'reconnecting');
  for (let i = 4; i <= 6; i++) await httpPublish(server.httpUrl, 'lobby', `m${i}`);
  await stateReached(c, 'open');
  await waitFor(() => rec.messages.length === 6, { what: 'replayed messages' });
  for (let i = 7; i <= 8; i++) await httpPublish(server.httpUrl, 'lobby', `m${i}`);
  await waitFor(() => rec.messages.length === 8);
  assert.deepEqual(rec.offsets(), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(rec.messages.map((m) => m.data), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8']);
  assert.deepEqual(states, ['open', 'reconnecting', 'open']);
  assert.deepEqual(subscribes('lobby').at(-1).since, { offset: 3, epoch: server.channel('lobby').epoch });
  assert.equal(failures.length, 0);
});

test('keeps reconnecting with backoff while the server refuses, then recovers', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl, { backoffMinMs: 10, backoffMaxMs: 40 });
  const rec = recorder();
  await c.subscribe('lobby', rec).ready;
  server.hooks.refuseHandshakes = 5;
  server.hooks.refuseStatus = 503;
  server.dropAll();
  await httpPublish(server.httpUrl, 'lobby', 'while down');
  await waitFor(() => rec.messages.length === 1, { what: 'recovery after refusals' });
  assert.equal(server.handshakes.filter((h) => h.refused === 503).length, 5);
  assert.equal(c.state, 'open');
});

test('a gap in offsets makes the client re-subscribe with since and fill it in order', async () => {
  server = await startFakeServer();
  // The gap wait outlasts the five publishes even on a busy machine, so the
  // check below sees the gap still open.
  const c = client(server.wsUrl, { gapWaitMs: 600 });
  const rec = recorder();
  await c.subscribe('lobby', rec).ready;
  server.hooks.dropDelivery = (conn, m) => m.offset === 2 || m.offset === 3;
  for (let i = 1; i <= 5; i++) await httpPublish(server.httpUrl, 'lobby', `m${i}`);
  await sleep(20);
  assert.deepEqual(rec.offsets(), [1], 'nothing after the gap is delivered out of order');
  await waitFor(() => rec.messages.length === 5, { what: 'the gap filled' });
  assert.deepEqual(rec.offsets(), [1, 2, 3, 4, 5]);
  const since = subscribes('lobby').at(-1).since;
  assert.deepEqual(since, { offset: 1, epoch: server.channel('lobby').epoch });
});

test('out-of-order delivery is put back in order, each offset once', async () => {
  server = await startFakeServer({ deliveryJitterMs: 30 });
  const a = client(server.wsUrl, { gapWaitMs: 500 });
  const b = client(server.wsUrl);
  const rec = recorder();
  await a.subscribe('lobby', rec).ready;
  const n = 40;
  await Promise.all(Array.from({ length: n }, (_, i) => b.publish('lobby', i)));
  await waitFor(() => rec.messages.length === n);
  assert.deepEqual(rec.offsets(), Array.from({ length: n }, (_, i) => i + 1));
  assert.equal(subscribes('lobby').length, 1, 'no re-subscribe: the late ones came within gapWaitMs');
});

test('a subscribed offset above what arrived: the missing ones are fetched with since', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl, { gapWaitMs: 80 });
  const rec = recorder();
  await c.subscribe('lobby', rec).ready;
  await httpPublish(server.httpUrl, 'lobby', 'm1');
  await waitFor(() => rec.messages.length === 1);
  // Published while the socket is down, and (the race the contract names)
  // left out of the replay, as if published after the history read.
  server.dropAll();
  await stateReached(c, 'reconnecting');
  for (let i = 2; i <= 4; i++) await httpPublish(server.httpUrl, 'lobby', `m${i}`);
  let skip = true;
  server.hooks.skipReplay = () => skip;
  await stateReached(c, 'open');
  await waitFor(() => subscribes('lobby').length === 2);
  skip = false;
  await waitFor(() => rec.messages.length === 4, { what: 'messages the reply announced' });
  assert.deepEqual(rec.offsets(), [1, 2, 3, 4]);
  const frames = subscribes('lobby');
  assert.equal(frames.length, 3);
  assert.deepEqual(frames[1].since.offset, 1);
  assert.deepEqual(frames[2].since.offset, 1);
});

test('holes left by failed publishes are skipped after a recovered replay, without a failure report', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl, { gapWaitMs: 50 });
  const rec = recorder();
  const failures = [];
  await c.subscribe('lobby', { ...rec, onRecoveryFailed: (i) => failures.push(i) }).ready;
  server.hooks.failPublish = (ch, offset) => offset === 2;
  await httpPublish(server.httpUrl, 'lobby', 'm1');
  await assert.rejects(httpPublish(server.httpUrl, 'lobby', 'lost'), /503/);
  await httpPublish(server.httpUrl, 'lobby', 'm3');
  await waitFor(() => rec.messages.length === 2, { what: 'delivery past the hole' });
  assert.deepEqual(rec.offsets(), [1, 3]);
  assert.equal(failures.length, 0);
  assert.equal(subscribes('lobby').length, 2);
});

test('recovered:false calls onRecoveryFailed and the client event, then delivery goes on', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl);
  const rec = recorder();
  const failures = [];
  const events = [];
  c.on('recoveryFailed', (i) => events.push(i));
  await c.subscribe('lobby', { ...rec, onRecoveryFailed: (i) => failures.push(i) }).ready;
  await httpPublish(server.httpUrl, 'lobby', 'm1');
  await waitFor(() => rec.messages.length === 1);
  server.dropAll();
  await stateReached(c, 'reconnecting');
  for (let i = 2; i <= 5; i++) await httpPublish(server.httpUrl, 'lobby', `m${i}`);
  server.trimHistory('lobby', 3); // 2 and 3 expired
  await waitFor(() => failures.length === 1, { what: 'recovery failure' });
  const epoch = server.channel('lobby').epoch;
  assert.deepEqual(failures[0], { channel: 'lobby', reason: 'not_recovered', previous: { offset: 1, epoch }, current: { offset: 5, epoch } });
  assert.deepEqual(events, failures);
  await httpPublish(server.httpUrl, 'lobby', 'm6');
  await waitFor(() => rec.messages.at(-1)?.offset === 6);
  assert.deepEqual(rec.offsets(), [1, 4, 5, 6], 'what could be replayed, then onwards');
});

test('a new epoch is reported as a loss and delivery restarts in it', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl);
  const rec = recorder();
  const failures = [];
  await c.subscribe('lobby', { ...rec, onRecoveryFailed: (i) => failures.push(i) }).ready;
  await httpPublish(server.httpUrl, 'lobby', 'old');
  await waitFor(() => rec.messages.length === 1);
  const oldEpoch = server.channel('lobby').epoch;
  server.dropAll();
  await stateReached(c, 'reconnecting');
  server.resetChannel('lobby');
  await httpPublish(server.httpUrl, 'lobby', 'new1');
  await waitFor(() => failures.length === 1);
  const newEpoch = server.channel('lobby').epoch;
  assert.equal(failures[0].reason, 'epoch_changed');
  assert.deepEqual(failures[0].previous, { offset: 1, epoch: oldEpoch });
  assert.deepEqual(failures[0].current, { offset: 1, epoch: newEpoch });
  await httpPublish(server.httpUrl, 'lobby', 'new2');
  await waitFor(() => rec.messages.length === 2);
  assert.deepEqual(rec.messages.map((m) => [m.offset, m.epoch]), [[1, oldEpoch], [2, newEpoch]]);
});

test('an epoch change seen on a live subscription is reported too', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl);
  const rec = recorder();
  const failures = [];
  await c.subscribe('lobby', { ...rec, onRecoveryFailed: (i) => failures.push(i) }).ready;
  await httpPublish(server.httpUrl, 'lobby', 'old');
  server.resetChannel('lobby');
  await httpPublish(server.httpUrl, 'lobby', 'new');
  await waitFor(() => rec.messages.length === 2);
  assert.equal(failures.length, 1);
  assert.equal(failures[0].reason, 'epoch_changed');
});

test('a subscription can start from a stored position', async () => {
  server = await startFakeServer();
  for (let i = 1; i <= 5; i++) await httpPublish(server.httpUrl, 'lobby', `m${i}`);
  const c = client(server.wsUrl);
  const rec = recorder();
  const reply = await c.subscribe('lobby', { ...rec, since: { offset: 2, epoch: server.channel('lobby').epoch } }).ready;
  assert.equal(reply.recovered, true);
  await waitFor(() => rec.messages.length === 3);
  assert.deepEqual(rec.offsets(), [3, 4, 5]);
});

test('own publishes without self are no gap; replays do not show them either', async () => {
  server = await startFakeServer();
  const a = client(server.wsUrl, { gapWaitMs: 50 });
  const rec = recorder();
  await a.subscribe('lobby', rec).ready;
  await a.publish('lobby', 'mine');
  await httpPublish(server.httpUrl, 'lobby', 'theirs');
  await waitFor(() => rec.messages.length === 1);
  await sleep(120);
  assert.deepEqual(rec.offsets(), [2]);
  assert.equal(subscribes('lobby').length, 1, 'no re-subscribe for our own offset');
  assert.ok(contiguous([1, 2]));
});

test('an offset skipped as a hole that turns up after all is reported, not delivered out of order', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl, { gapWaitMs: 50 });
  const rec = recorder();
  const failures = [];
  await c.subscribe('lobby', { ...rec, onRecoveryFailed: (i) => failures.push(i) }).ready;
  // Offset 2 is neither delivered nor replayed: it looks like a hole.
  server.hooks.dropDelivery = (conn, m) => m.offset === 2;
  server.hooks.skipReplay = (conn, m) => m.offset === 2;
  for (let i = 1; i <= 3; i++) await httpPublish(server.httpUrl, 'lobby', `m${i}`);
  await waitFor(() => rec.messages.length === 2, { what: 'delivery past the presumed hole' });
  assert.deepEqual(rec.offsets(), [1, 3]);
  assert.equal(failures.length, 0);
  // Then its post arrives after all.
  const late = server.channel('lobby').history.find((h) => h.offset === 2).envelope;
  server.connections()[0].ws.send(JSON.stringify(late));
  await waitFor(() => failures.length === 1);
  assert.equal(failures[0].reason, 'late');
  assert.equal(failures[0].message.offset, 2);
  assert.deepEqual(rec.offsets(), [1, 3]);
});
