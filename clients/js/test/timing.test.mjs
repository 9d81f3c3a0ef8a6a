// API Gateway's cuts, shrunk: idle pings, the planned rollover, command timeouts, backoff.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../dist/client.js';
import { startFakeServer } from './fake-server.mjs';
import { makeClients, waitFor, stateReached, httpPublish, recorder, sleep } from './helpers.mjs';

let server;
let client;
beforeEach(() => {
  client = makeClients();
});
afterEach(async () => {
  client.closeAll();
  await server?.close();
  server = undefined;
});

test('backoff: full jitter between the floor and an exponential ceiling capped at the max', () => {
  const min = 1_000;
  const max = 60_000;
  assert.equal(backoffDelay(0, min, max, () => 0), 1_000);
  assert.equal(backoffDelay(0, min, max, () => 1), 2_000);
  assert.equal(backoffDelay(3, min, max, () => 1), 16_000);
  assert.equal(backoffDelay(20, min, max, () => 1), 60_000);
  assert.equal(backoffDelay(1e6, min, max, () => 1), 60_000);
  for (let attempt = 0; attempt < 50; attempt++) {
    const d = backoffDelay(attempt, min, max);
    assert.ok(d >= min && d <= max, `${d}`);
  }
  const spread = new Set(Array.from({ length: 20 }, () => Math.round(backoffDelay(10, min, max))));
  assert.ok(spread.size > 10, 'jittered');
});

for (const pongWithoutId of [false, true]) {
  test(`a ping keeps an idle connection open (pong ${pongWithoutId ? 'without id, as API Gateway MOCK answers' : 'with id'})`, async () => {
    server = await startFakeServer({ idleTimeoutMs: 250, pongWithoutId });
    const c = client(server.wsUrl, { pingIntervalMs: 100 });
    const states = [];
    c.on('state', (s) => states.push(s));
    await c.subscribe('lobby').ready;
    await sleep(1_200);
    assert.deepEqual(states, ['open']);
    assert.equal(server.handshakes.length, 1);
    const pings = server.frames.filter((f) => f.frame.action === 'ping');
    assert.ok(pings.length >= 8, `${pings.length} pings`);
    assert.ok(pings.every((p) => typeof p.frame.id === 'string'));
  });
}

test('without pings the idle cut happens, and the client comes back', async () => {
  server = await startFakeServer({ idleTimeoutMs: 150 });
  const c = client(server.wsUrl, { pingIntervalMs: 60_000 });
  await c.subscribe('lobby').ready;
  await stateReached(c, 'reconnecting');
  await stateReached(c, 'open');
  assert.equal(server.handshakes.length, 2);
});

test('a ping without answer replaces the socket', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl, { pingIntervalMs: 100, commandTimeoutMs: 150 });
  const rec = recorder();
  await c.subscribe('lobby', rec).ready;
  server.hooks.swallowReply = (conn, f) => f.action === 'ping';
  await stateReached(c, 'reconnecting');
  server.hooks.swallowReply = undefined;
  await stateReached(c, 'open');
  await httpPublish(server.httpUrl, 'lobby', 'after');
  await waitFor(() => rec.messages.length === 1);
});

for (const jitter of [0, 30]) {
  test(`planned rollover: new socket subscribed before the old one closes; every offset once, in order${jitter ? ' (posts and commands out of order)' : ''}`, async () => {
    server = await startFakeServer({ maxLifetimeMs: 700, deliveryJitterMs: jitter, commandJitterMs: jitter });
    const c = client(server.wsUrl, { rolloverMinMs: 250, rolloverMaxMs: 350, gapWaitMs: 150 });
    const states = [];
    c.on('state', (s) => states.push(s));
    const rec = recorder();
    const failures = [];
    await c.subscribe('lobby', { ...rec, onRecoveryFailed: (i) => failures.push(i) }).ready;
    await c.subscribe('other').ready;
    let published = 0;
    const end = Date.now() + 2_500;
    while (Date.now() < end) {
      await httpPublish(server.httpUrl, 'lobby', `m${++published}`);
      await sleep(50);
    }
    await waitFor(() => rec.messages.length === published, { what: `${published} messages` });
    assert.deepEqual(rec.offsets(), Array.from({ length: published }, (_, i) => i + 1));
    assert.ok(server.handshakes.length >= 5, `${server.handshakes.length} sockets in 2.5 s`);
    assert.equal(server.channel('lobby').peakMembers, 2, 'the new socket was a member while the old one still was');
    assert.deepEqual(states, ['open'], 'no reconnect: the server never had to cut');
    assert.equal(failures.length, 0);
    await waitFor(() => server.connections().length === 1);
    const [live] = server.connections();
    assert.deepEqual([...live.channels].sort(), ['lobby', 'other']);
    // Every re-subscribe on a new socket carried since.
    const resubs = server.frames.filter((f) => f.frame.action === 'subscribe' && f.frame.channel === 'lobby').slice(1);
    assert.ok(resubs.length >= 4 && resubs.every((f) => f.frame.since?.epoch === server.channel('lobby').epoch));
  });
}

test('a rollover in the middle of publishing by the client itself loses nothing', async () => {
  server = await startFakeServer();
  const a = client(server.wsUrl, { rolloverMinMs: 100, rolloverMaxMs: 200 });
  const b = client(server.wsUrl);
  const rec = recorder();
  await b.subscribe('lobby', rec).ready;
  const replies = [];
  const end = Date.now() + 1_200;
  while (Date.now() < end) {
    replies.push(await a.publish('lobby', replies.length));
    await sleep(20);
  }
  assert.ok(server.handshakes.length >= 6);
  await waitFor(() => rec.messages.length === replies.length);
  assert.deepEqual(rec.offsets(), replies.map((r) => r.offset));
});

test('a command with no reply rejects after the command timeout; API Gateway noise is ignored', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl, { commandTimeoutMs: 200 });
  await stateReached(c, 'open');
  server.hooks.swallowReply = (conn, f) => f.action === 'publish';
  const t0 = Date.now();
  await assert.rejects(c.publish('lobby', 'x'), (e) => e.code === 'timeout');
  const took = Date.now() - t0;
  assert.ok(took >= 190 && took < 600, `${took} ms`);
  server.hooks.swallowReply = undefined;
  assert.equal((await c.publish('lobby', 'y')).type, 'published');
  assert.equal(c.state, 'open');
});

test('a subscribe with no reply is retried', async () => {
  server = await startFakeServer();
  const c = client(server.wsUrl, { commandTimeoutMs: 150 });
  await stateReached(c, 'open');
  let swallowed = 0;
  server.hooks.swallowReply = (conn, f) => f.action === 'subscribe' && swallowed++ < 2;
  const rec = recorder();
  const sub = c.subscribe('lobby', rec);
  await sub.ready;
  assert.equal(swallowed, 3);
  await httpPublish(server.httpUrl, 'lobby', 'x');
  await waitFor(() => rec.messages.length === 1);
});

test('a command waiting for a connection times out while the server is unreachable', async () => {
  server = await startFakeServer();
  server.hooks.refuseHandshakes = 1_000;
  const c = client(server.wsUrl, { commandTimeoutMs: 200 });
  await assert.rejects(c.presence('lobby'), (e) => e.code === 'timeout');
  assert.equal(c.state, 'connecting');
});

test('a handshake that never completes times out and the client tries again', async () => {
  server = await startFakeServer();
  server.hooks.stallHandshakes = 1;
  const c = client(server.wsUrl, { connectTimeoutMs: 200 });
  const t0 = Date.now();
  await stateReached(c, 'open');
  assert.ok(Date.now() - t0 >= 190);
  assert.deepEqual(server.handshakes.map((h) => h.refused), ['stalled', false]);
});
