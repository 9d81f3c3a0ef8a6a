// getToken: the subprotocol, refresh before exp, after two refused handshakes, on 401; presence by subject.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { PROTOCOL, tokenExpiry } from '../dist/client.js';
import { startFakeServer, tokenClaims } from './fake-server.mjs';
import { makeClients, waitFor, stateReached, httpPublish, recorder, sleep } from './helpers.mjs';

let server;
let client;
beforeEach(async () => {
  server = await startFakeServer({ auth: 'token' });
  client = makeClients();
});
afterEach(async () => {
  client.closeAll();
  await server.close();
});

/** A getToken that mints tokens living `ttlMs` and records why it was called. */
function tokens(ttlMs, claims = {}) {
  const reasons = [];
  const issued = [];
  const getToken = async ({ reason }) => {
    reasons.push(reason);
    const token = server.mintToken({ sub: 'user-1', channels: ['*'], publish: ['*'], exp: (Date.now() + ttlMs) / 1000, n: issued.length, ...claims });
    issued.push(token);
    return token;
  };
  return { getToken, reasons, issued };
}

test('tokenExpiry reads exp without verifying', () => {
  const t = server.mintToken({ exp: 1_900_000_000 });
  assert.equal(tokenExpiry(t), 1_900_000_000_000);
  assert.equal(tokenExpiry('no.token'), undefined);
  assert.equal(tokenExpiry('garbage'), undefined);
});

test('the token travels as the token.<JWT> subprotocol, never in the URL', async () => {
  const t = tokens(60_000);
  const c = client(server.wsUrl, { getToken: t.getToken });
  await stateReached(c, 'open');
  assert.deepEqual(t.reasons, ['connect']);
  assert.deepEqual(c.sockets[0].protocols, [PROTOCOL, `token.${t.issued[0]}`]);
  assert.equal(server.handshakes[0].url, '/staging');
  assert.ok(!server.handshakes[0].url.includes('token'));
});

test('getToken is called before exp; the fresh token rides on the next command and the next handshake', async () => {
  const t = tokens(2_400, { n: undefined });
  const c = client(server.wsUrl, { getToken: t.getToken });
  const rec = recorder();
  await c.subscribe('lobby', rec).ready;
  const firstExp = tokenExpiry(t.issued[0]);
  await waitFor(() => t.reasons.length >= 2, { what: 'refresh before exp' });
  assert.equal(t.reasons[1], 'expiring');
  assert.ok(Date.now() < firstExp, 'refreshed before the first token expired');
  await sleep(Math.max(0, firstExp - Date.now()) + 50); // the first token is now expired
  const reply = await c.publish('lobby', 'with fresh token');
  assert.equal(reply.type, 'published');
  const publishFrame = server.frames.filter((f) => f.frame.action === 'publish').at(-1).frame;
  assert.equal(publishFrame.token, t.issued.at(-1));
  // A later command does not repeat it.
  await c.publish('lobby', 'again');
  assert.equal(server.frames.filter((f) => f.frame.action === 'publish').at(-1).frame.token, undefined);
  // A reconnect now offers the fresh token; the expired one would be refused.
  server.dropAll();
  await stateReached(c, 'reconnecting');
  await stateReached(c, 'open');
  assert.equal(server.handshakes.filter((h) => h.refused).length, 0);
  assert.deepEqual(server.handshakes.at(-1).protocols.at(-1), `token.${t.issued.at(-1)}`);
});

test('after two failed handshakes in a row getToken is called again', async () => {
  const t = tokens(60_000);
  server.hooks.refuseHandshakes = 2; // the browser sees 1006 twice
  const c = client(server.wsUrl, { getToken: t.getToken });
  await stateReached(c, 'open');
  assert.deepEqual(t.reasons, ['connect', 'handshake']);
  assert.deepEqual(server.handshakes.map((h) => h.refused), [401, 401, false]);
  assert.equal(server.handshakes[1].protocols[1], `token.${t.issued[0]}`);
  assert.equal(server.handshakes[2].protocols[1], `token.${t.issued[1]}`);
});

test('a 401 on a command refreshes the token and retries once with it', async () => {
  const t = tokens(60_000);
  const c = client(server.wsUrl, { getToken: t.getToken });
  await stateReached(c, 'open');
  const [conn] = server.connections();
  conn.tokenExp = Date.now() - 1; // the server holds the token for expired
  const reply = await c.publish('lobby', 'retried');
  assert.equal(reply.type, 'published');
  assert.deepEqual(t.reasons, ['connect', 'unauthorized']);
  const publishes = server.frames.filter((f) => f.frame.action === 'publish').map((f) => f.frame);
  assert.equal(publishes.length, 2);
  assert.equal(publishes[0].token, undefined);
  assert.equal(publishes[1].token, t.issued[1]);
  assert.notEqual(publishes[0].id, publishes[1].id);
});

test('a 401 that a fresh token does not cure rejects with 401', async () => {
  const t = tokens(60_000, { sub: 'someone' });
  let n = 0;
  const c = client(server.wsUrl, {
    getToken: async (ctx) => {
      const token = await t.getToken(ctx);
      return n++ === 0 ? token : server.mintToken({ ...tokenClaims(token), sub: 'someone-else' });
    },
  });
  await stateReached(c, 'open');
  server.connections()[0].tokenExp = Date.now() - 1;
  await assert.rejects(c.presence('lobby'), (e) => e.code === 401);
  assert.equal(server.frames.filter((f) => f.frame.action === 'presence').length, 2);
});

test('a failing getToken is reported and retried with backoff', async () => {
  const t = tokens(60_000);
  let fail = 2;
  const errors = [];
  const c = client(server.wsUrl, {
    getToken: (ctx) => (fail-- > 0 ? Promise.reject(new Error('auth backend down')) : t.getToken(ctx)),
  });
  c.on('error', (e) => errors.push(e.message));
  await stateReached(c, 'open');
  assert.deepEqual(errors, ['auth backend down', 'auth backend down']);
});

test('join and leave events reach onJoin/onLeave once, also across a rollover', async () => {
  const a = client(server.wsUrl, { getToken: tokens(60_000, { sub: 'alice' }).getToken, rolloverMinMs: 150, rolloverMaxMs: 200 });
  const joins = [];
  const leaves = [];
  await a.subscribe('lobby', { onJoin: (s) => joins.push(s), onLeave: (s) => leaves.push(s) }).ready;
  await sleep(500); // a couple of rollovers of alice herself: no event
  const b = client(server.wsUrl, { getToken: tokens(60_000, { sub: 'bob' }).getToken });
  const bob = b.subscribe('lobby');
  await bob.ready;
  await waitFor(() => joins.includes('bob'));
  const p = await a.presence('lobby');
  assert.deepEqual(p.subjects.sort(), ['alice', 'bob']);
  await sleep(400); // more rollovers while bob is there
  await bob.unsubscribe();
  await waitFor(() => leaves.length === 1);
  await sleep(100);
  assert.deepEqual(joins.filter((s) => s === 'bob'), ['bob']);
  assert.deepEqual(leaves, ['bob']);
  assert.ok(server.handshakes.length >= 5);
});

test('publish carries from: the subject of the publisher', async () => {
  const a = client(server.wsUrl, { getToken: tokens(60_000, { sub: 'alice' }).getToken });
  const b = client(server.wsUrl, { getToken: tokens(60_000, { sub: 'bob' }).getToken });
  const rec = recorder();
  await b.subscribe('lobby', rec).ready;
  await a.publish('lobby', 'hello');
  await httpPublish(server.httpUrl, 'lobby', 'from http');
  await waitFor(() => rec.messages.length === 2);
  assert.equal(rec.messages[0].from, 'alice');
  assert.equal(rec.messages[1].from, undefined);
});

test('a long-lived token is not refreshed at once (timer delays past 2^31 ms are clamped)', async () => {
  const t = tokens(365 * 24 * 3600 * 1000);
  const c = client(server.wsUrl, { getToken: t.getToken, rolloverMinMs: 1e12, rolloverMaxMs: 1e12, pingIntervalMs: 1e12 });
  await stateReached(c, 'open');
  await sleep(300);
  assert.deepEqual(t.reasons, ['connect']);
  assert.equal(server.handshakes.length, 1);
  assert.equal(server.frames.length, 0);
});

test('a presence event repeated (as by the two sockets of a rollover) is passed on once', async () => {
  const a = client(server.wsUrl, { getToken: tokens(60_000, { sub: 'alice' }).getToken });
  const seen = [];
  await a.subscribe('lobby', { onPresence: (e) => seen.push(`${e.type} ${e.subject}`) }).ready;
  const [conn] = server.connections();
  for (const type of ['join', 'join', 'leave', 'leave', 'join']) conn.ws.send(JSON.stringify({ type, channel: 'lobby', subject: 'carol' }));
  conn.ws.send(JSON.stringify({ type: 'join', channel: 'other', subject: 'carol' }));
  await waitFor(() => seen.length >= 3);
  await sleep(50);
  assert.deepEqual(seen.filter((s) => s.endsWith('carol')), ['join carol', 'leave carol', 'join carol']);
});
