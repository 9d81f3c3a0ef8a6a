// The client against the real Rust local gateway (tools/local-gateway), run
// as a child process on 127.0.0.1 with the flags each test needs: round
// trips, presence events, a socket the server drops, the idle cut, the
// planned rollover under a steady publisher, a token refreshed mid-session,
// history off, the 32 KiB frame limit. API Gateway's cuts are shrunk to
// seconds with the gateway's flags; each test takes at most about ten.
//
// Needs the gateway binary (see gateway.mjs); a missing one fails the tests.
import { test, before, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Client } from '../../dist/client.js';
import { startGateway, requireGateway } from './gateway.mjs';
import { waitFor, stateReached, sleep } from '../helpers.mjs';

/** Timings for a real server on a shared 2-core machine: fast, with room. */
const TIMINGS = {
  backoffMinMs: 50,
  backoffMaxMs: 400,
  commandTimeoutMs: 4_000,
  connectTimeoutMs: 4_000,
  gapWaitMs: 500,
};

let gateways = [];
let made = [];

before(() => {
  requireGateway(); // fails every test below with the build command when the binary is missing
});

afterEach(async () => {
  for (const c of made) c.close();
  made = [];
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
});

async function gateway(flags = []) {
  const g = await startGateway(flags);
  gateways.push(g);
  return g;
}

/**
 * A client on Node's `ws` whose sockets are recorded: the subprotocols
 * offered, every frame sent and received (parsed), and how each closed.
 */
function client(url, options = {}) {
  const sockets = [];
  class RecordedWebSocket extends WebSocket {
    constructor(u, protocols) {
      super(u, protocols);
      const s = { protocols, sent: [], received: [], closed: undefined };
      sockets.push(s);
      const send = this.send.bind(this);
      this.send = (data, ...rest) => {
        s.sent.push(JSON.parse(data));
        return send(data, ...rest);
      };
      this.on('message', (d) => {
        try {
          s.received.push(JSON.parse(d.toString()));
        } catch {
          s.received.push(d.toString());
        }
      });
      this.on('close', (code, reason) => {
        s.closed = { code, reason: reason.toString() };
      });
    }
  }
  const c = new Client(url, { WebSocket: RecordedWebSocket, ...TIMINGS, ...options });
  c.sockets = sockets;
  c.states = [];
  c.failures = [];
  c.errors = [];
  c.on('state', (s) => c.states.push(s));
  c.on('recoveryFailed', (info) => c.failures.push(info));
  c.on('error', (e) => c.errors.push(e));
  made.push(c);
  return c;
}

/** onMessage that records, with a list of offsets. */
function recorder() {
  const messages = [];
  return { messages, offsets: () => messages.map((m) => m.offset), onMessage: (m) => messages.push(m) };
}

const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** The one connection id the gateway logged for a channel's subscriber. */
async function connectionOf(gw, channel) {
  return waitFor(
    () => {
      const ids = gw.connections({ channel });
      return ids.length === 1 ? ids[0] : undefined;
    },
    { what: `the connection subscribed to ${channel} in the gateway's log` },
  );
}

test('subscribe, publish (socket and HTTP), self, presence and unsubscribe round trips', { timeout: 20_000 }, async () => {
  const gw = await gateway();
  const a = client(gw.wsUrl);
  const b = client(gw.wsUrl);
  const ra = recorder();
  const rb = recorder();
  const subA = a.subscribe('lobby', ra);
  const subB = b.subscribe('lobby', rb);
  const reply = await subA.ready;
  await subB.ready;
  assert.equal(reply.type, 'subscribed');
  assert.equal(reply.offset, 0, 'nothing published yet');
  assert.equal(typeof reply.epoch, 'string');
  assert.equal(a.sockets[0].protocols.length, 1, 'open mode offers lrw.v1 alone');
  assert.equal(a.sockets[0].protocols[0], 'lrw.v1');

  // A socket publish reaches the other member, not the sender.
  const published = await a.publish('lobby', { n: 1 });
  assert.equal(published.type, 'published');
  assert.equal(published.offset, 1);
  assert.equal(published.recipients, 1);
  assert.equal(published.delivered, 1);
  // HTTP publishes: JSON with content-type application/json, text otherwise.
  assert.equal((await gw.publish('lobby', { n: 2 }, { json: true })).offset, 2);
  assert.equal((await gw.publish('lobby', 'three')).offset, 3);
  // self: true brings the sender its own copy.
  assert.equal((await a.publish('lobby', 'mine', { self: true })).offset, 4);

  await waitFor(() => rb.messages.length === 4 && ra.messages.length === 3, { what: 'the messages' });
  assert.deepEqual(rb.offsets(), [1, 2, 3, 4]);
  assert.deepEqual(rb.messages.map((m) => m.data), [{ n: 1 }, { n: 2 }, 'three', 'mine']);
  assert.ok(rb.messages.every((m) => m.channel === 'lobby' && m.epoch === reply.epoch));
  assert.deepEqual(ra.offsets(), [2, 3, 4], 'its own publish without self is not sent back (and is no gap)');

  const presence = await b.presence('lobby');
  assert.equal(presence.type, 'presence');
  assert.equal(presence.connections, 2);
  assert.deepEqual(presence.subjects, [], 'open mode: no subjects');
  assert.equal(subA.position.offset, 4);

  // After unsubscribe nothing more arrives there.
  await subB.unsubscribe();
  assert.equal(subB.state, 'unsubscribed');
  await gw.publish('lobby', 'five');
  await waitFor(() => ra.messages.length === 4, { what: 'offset 5 at a' });
  assert.equal((await a.presence('lobby')).connections, 1);
  await sleep(200);
  assert.deepEqual(rb.offsets(), [1, 2, 3, 4]);

  // No re-subscribe for a gap was needed: one subscribe each.
  assert.equal(a.sockets[0].sent.filter((f) => f.action === 'subscribe').length, 1);
  assert.deepEqual([a.failures, b.failures, a.errors, b.errors], [[], [], [], []]);
  assert.deepEqual(a.states, ['open']);
});

test('presence with tokens: subjects, join and leave events on room-* only, from on socket publishes, 403 without a grant', { timeout: 20_000 }, async () => {
  const gw = await gateway(['--auth', 'token', '--presence-events', 'room-*']);
  const aliceToken = await gw.mint({ channels: ['*'], publish: ['room-*'], subject: 'u-alice' });
  const bobToken = await gw.mint({ channels: ['*'], publish: ['room-*'], subject: 'u-bob' });
  const a = client(gw.wsUrl, { getToken: () => aliceToken });
  const b = client(gw.wsUrl, { getToken: () => bobToken });
  const events = [];
  const lobbyEvents = [];
  const ra = recorder();
  await a.subscribe('room-1', {
    ...ra,
    onJoin: (subject) => events.push(`join ${subject}`),
    onLeave: (subject) => events.push(`leave ${subject}`),
  }).ready;
  await a.subscribe('lobby', { onPresence: (e) => lobbyEvents.push(e) }).ready;
  assert.equal(a.sockets[0].protocols[1], `token.${aliceToken}`, 'the token rides as a subprotocol');

  await waitFor(() => events.includes('join u-alice'), { what: 'alice joins room-1 (her own event)' });
  await b.subscribe('room-1').ready;
  await b.subscribe('lobby').ready;
  await waitFor(() => events.includes('join u-bob'), { what: 'bob joins room-1' });

  const presence = await a.presence('room-1');
  assert.equal(presence.connections, 2);
  assert.deepEqual([...presence.subjects].sort(), ['u-alice', 'u-bob']);

  // A socket publish carries the publisher's subject as `from`.
  await b.publish('room-1', { text: 'hi' });
  await waitFor(() => ra.messages.length === 1, { what: "bob's message" });
  assert.equal(ra.messages[0].from, 'u-bob');
  assert.deepEqual(ra.messages[0].data, { text: 'hi' });

  // Publishing needs a publish grant: lobby is not in room-*.
  await assert.rejects(a.publish('lobby', 'no'), (e) => e.code === 403);

  // Bob goes: his last membership goes, a leave follows.
  b.close();
  await waitFor(() => events.includes('leave u-bob'), { what: 'bob leaves room-1' });
  const after = await a.presence('room-1');
  assert.equal(after.connections, 1);
  assert.deepEqual(after.subjects, ['u-alice']);
  assert.deepEqual(events, ['join u-alice', 'join u-bob', 'leave u-bob']);
  assert.deepEqual(lobbyEvents, [], 'lobby is not covered by --presence-events room-*');
  assert.deepEqual(a.failures, []);
});

test('the gateway drops the socket (DELETE @connections): the client reconnects and recovers what was published meanwhile', { timeout: 20_000 }, async () => {
  const gw = await gateway();
  // A backoff of at least 600 ms leaves time to publish while it is away.
  const c = client(gw.wsUrl, { backoffMinMs: 600, backoffMaxMs: 800 });
  const rec = recorder();
  const subscribed = [];
  await c.subscribe('drop-1', { ...rec, onSubscribed: (r) => subscribed.push(r) }).ready;
  await gw.publish('drop-1', 'one');
  await gw.publish('drop-1', 'two');
  await waitFor(() => rec.messages.length === 2, { what: 'offsets 1 and 2' });

  await gw.drop(await connectionOf(gw, 'drop-1'));
  await stateReached(c, 'reconnecting');
  await gw.publish('drop-1', 'three (while away)');
  await gw.publish('drop-1', 'four (while away)');
  await stateReached(c, 'open', 5_000);
  await gw.publish('drop-1', 'five');
  await waitFor(() => rec.messages.length === 5, { what: 'offsets 3 to 5' });
  await sleep(200);

  assert.deepEqual(rec.offsets(), [1, 2, 3, 4, 5]);
  assert.deepEqual(rec.messages.map((m) => m.data), ['one', 'two', 'three (while away)', 'four (while away)', 'five']);
  assert.deepEqual(c.sockets[0].closed, { code: 1000, reason: 'Connection deleted' });
  assert.equal(c.sockets.length, 2);
  const resubscribe = c.sockets[1].sent.find((f) => f.action === 'subscribe');
  assert.deepEqual(resubscribe.since, { offset: 2, epoch: rec.messages[0].epoch }, 'resumed with since');
  assert.equal(subscribed.at(-1).recovered, true);
  assert.deepEqual(c.states, ['open', 'reconnecting', 'open']);
  assert.deepEqual(c.failures, []);
});

test('idle cut (--idle-timeout-secs 2): a client pinging every second keeps its socket; one without pings is cut and comes back', { timeout: 20_000 }, async () => {
  const gw = await gateway(['--idle-timeout-secs', '2']);
  const pinger = client(gw.wsUrl, { pingIntervalMs: 1_000 });
  const quiet = client(gw.wsUrl, { pingIntervalMs: 600_000 });
  const rp = recorder();
  const rq = recorder();
  await pinger.subscribe('idle-ping', rp).ready;
  await quiet.subscribe('idle-quiet', rq).ready;
  await sleep(5_000);

  // The pinger: one socket all along, answered by the MOCK pong (no id).
  assert.deepEqual(pinger.states, ['open'], 'the pinger never left open');
  assert.equal(pinger.sockets.length, 1);
  assert.equal(pinger.sockets[0].closed, undefined);
  const pings = pinger.sockets[0].sent.filter((f) => f.action === 'ping');
  assert.ok(pings.length >= 3, `${pings.length} pings in 5 s`);
  const pongs = pinger.sockets[0].received.filter((f) => f.type === 'pong');
  assert.ok(pongs.length >= 3 && pongs.every((p) => p.id === undefined), 'pongs without id, as API Gateway MOCK answers');

  // The quiet one: cut at 2 s idle with 1001, reconnected.
  assert.ok(quiet.sockets.length >= 2, `${quiet.sockets.length} sockets`);
  assert.deepEqual(quiet.sockets[0].closed, { code: 1001, reason: 'Going away: idle timeout' });
  assert.ok(quiet.states.includes('reconnecting'));

  // Both still get what is published.
  await stateReached(quiet, 'open', 5_000);
  await gw.publish('idle-ping', 'p');
  await gw.publish('idle-quiet', 'q');
  await waitFor(() => rp.messages.length === 1 && rq.messages.length === 1, { what: 'a message on each' });
  assert.deepEqual([rp.offsets(), rq.offsets()], [[1], [1]]);
  assert.deepEqual([pinger.failures, quiet.failures], [[], []]);
});

test('planned rollover (--max-lifetime-secs 5, rollover at 3-4 s) under an HTTP publisher every 50 ms: every offset exactly once, in order', { timeout: 30_000 }, async (t) => {
  const gw = await gateway(['--max-lifetime-secs', '5']);
  const c = client(gw.wsUrl, { rolloverMinMs: 3_000, rolloverMaxMs: 4_000 });
  const channels = ['roll-a', 'roll-b'];
  const recs = Object.fromEntries(channels.map((ch) => [ch, recorder()]));
  await Promise.all(channels.map((ch) => c.subscribe(ch, recs[ch]).ready));

  // Publish for 9 s: two rollovers (at 3-4 s and 3-4 s after that).
  const published = Object.fromEntries(channels.map((ch) => [ch, []]));
  const end = Date.now() + 9_000;
  let n = 0;
  while (Date.now() < end) {
    const tick = Date.now();
    const ch = channels[n % 2];
    const answer = await gw.publish(ch, { n });
    published[ch].push(answer.offset);
    n++;
    await sleep(Math.max(0, 50 - (Date.now() - tick)));
  }
  for (const ch of channels) {
    const last = published[ch].at(-1);
    await waitFor(() => recs[ch].offsets().at(-1) === last, { timeout: 5_000, what: `${ch} #${last}` });
  }
  await sleep(300);

  for (const ch of channels) {
    const got = recs[ch].offsets();
    assert.deepEqual(published[ch], range(1, published[ch].length), `${ch}: the gateway's offsets`);
    assert.deepEqual(got, published[ch], `${ch}: every offset exactly once, in order`);
  }
  assert.ok(n >= 100, `${n} publishes`);
  assert.deepEqual(c.states, ['open'], 'a rollover does not leave open');
  assert.ok(c.sockets.length >= 3, `${c.sockets.length} sockets: two rollovers`);
  for (const s of c.sockets.slice(0, -1)) {
    assert.notEqual(s.closed?.code, 1001, `no socket reached the 5 s cut: ${JSON.stringify(s.closed)}`);
  }
  // Each new socket re-subscribed every channel with since before the old one closed.
  for (const s of c.sockets.slice(1)) {
    const subs = s.sent.filter((f) => f.action === 'subscribe');
    assert.deepEqual(subs.map((f) => f.channel).sort(), channels);
    assert.ok(subs.every((f) => f.since && typeof f.since.offset === 'number'));
  }
  assert.deepEqual(c.failures, []);
  // At least once from the server: what came twice (both sockets of a rollover, a replay) was dropped.
  const frames = c.sockets.flatMap((s) => s.received).filter((f) => f.type === 'message').length;
  t.diagnostic(`${n} publishes, ${frames} message frames over ${c.sockets.length} sockets, ${n} delivered`);
});

test('a token that expires mid-session is refreshed before exp, rides on the next command and on the next handshake', { timeout: 20_000 }, async () => {
  const gw = await gateway(['--auth', 'token']);
  const minted = [];
  const reasons = [];
  const getToken = async ({ reason }) => {
    reasons.push(reason);
    const token = await gw.mint({ channels: ['tok-*'], publish: ['tok-*'], subject: 'u-tok', ttlSeconds: 3 });
    minted.push(token);
    return token;
  };
  const c = client(gw.wsUrl, { getToken });
  const listener = client(gw.wsUrl, { getToken: () => gw.mint({ channels: ['tok-*'], subject: 'u-listener' }) });
  const rec = recorder();
  await listener.subscribe('tok-1', rec).ready;
  await c.subscribe('tok-1').ready;

  // Commands every 400 ms for 5 s: the first token (3 s) expires meanwhile.
  const start = Date.now();
  let i = 0;
  while (Date.now() - start < 5_000) {
    await c.publish('tok-1', i++);
    await sleep(400);
  }
  // A subscription after the first token's exp.
  await c.subscribe('tok-2').ready;

  assert.equal(reasons[0], 'connect');
  assert.ok(reasons.filter((r) => r === 'expiring').length >= 2, `reasons: ${reasons.join(', ')}`);
  assert.ok(!reasons.includes('unauthorized'), 'refreshed before any 401');
  const sent = c.sockets[0].sent;
  const carried = sent.filter((f) => typeof f.token === 'string').map((f) => f.token);
  assert.ok(carried.length >= 2, 'fresh tokens rode on commands');
  assert.ok(carried.every((t) => minted.includes(t) && t !== minted[0]), 'each a fresh one, never the handshake token');
  assert.deepEqual(new Set(carried).size, carried.length, 'each fresh token is sent once');
  const errors = c.sockets[0].received.filter((f) => f.type === 'error');
  assert.deepEqual(errors, [], 'the gateway accepted every command and its token');

  await waitFor(() => rec.messages.length === i, { what: 'every publish at the listener' });
  assert.ok(rec.messages.every((m) => m.from === 'u-tok'));
  assert.deepEqual(rec.offsets(), range(1, i));

  // The next handshake offers the newest token.
  await gw.drop(await connectionOf(gw, 'tok-2'));
  await stateReached(c, 'reconnecting');
  await stateReached(c, 'open', 5_000);
  assert.equal(c.sockets.length, 2);
  const offered = c.sockets[1].protocols[1].slice('token.'.length);
  assert.ok(minted.indexOf(offered) > 0, 'the reconnect offers a fresh token, not the first');
  await c.publish('tok-1', 'after reconnect');
  await waitFor(() => rec.messages.at(-1)?.data === 'after reconnect', { what: 'the publish after the reconnect' });
  assert.deepEqual(c.failures, []);
  assert.deepEqual(c.errors, []);
});

test('history off (--history-ttl-secs 0): a reconnect that missed a message reports recovered:false, then delivery goes on', { timeout: 20_000 }, async () => {
  const gw = await gateway(['--history-ttl-secs', '0']);
  const c = client(gw.wsUrl, { backoffMinMs: 600, backoffMaxMs: 800 });
  const rec = recorder();
  const failures = [];
  const subscribed = [];
  await c.subscribe('nohist', { ...rec, onRecoveryFailed: (f) => failures.push(f), onSubscribed: (r) => subscribed.push(r) }).ready;
  await gw.publish('nohist', 'one');
  await waitFor(() => rec.messages.length === 1, { what: 'offset 1' });
  const epoch = rec.messages[0].epoch;

  await gw.drop(await connectionOf(gw, 'nohist'));
  await stateReached(c, 'reconnecting');
  await gw.publish('nohist', 'two (lost)');
  await stateReached(c, 'open', 5_000);
  await waitFor(() => failures.length === 1, { what: 'onRecoveryFailed' });
  assert.equal(subscribed.at(-1).recovered, false);
  assert.deepEqual(failures[0], { channel: 'nohist', reason: 'not_recovered', previous: { offset: 1, epoch }, current: { offset: 2, epoch } });
  assert.deepEqual(c.failures, failures, "the client's recoveryFailed event too");

  await gw.publish('nohist', 'three');
  await waitFor(() => rec.messages.length === 2, { what: 'offset 3' });
  assert.deepEqual(rec.offsets(), [1, 3], 'the lost offset is reported, not delivered');
});

test('32 KiB frames: a publish whose frame is under the limit goes through; one over it is refused locally (413), the socket stays', { timeout: 20_000 }, async () => {
  const gw = await gateway();
  const c = client(gw.wsUrl);
  const other = client(gw.wsUrl);
  const rec = recorder();
  await other.subscribe('big', rec).ready;
  await c.subscribe('big').ready;
  const near = 'x'.repeat(32 * 1024 - 100);
  assert.equal((await c.publish('big', near)).offset, 1);
  await assert.rejects(c.publish('big', 'x'.repeat(32 * 1024)), (e) => e.code === 413);
  await waitFor(() => rec.messages.length === 1, { what: 'the large message' });
  assert.equal(rec.messages[0].data.length, near.length);
  assert.equal((await c.publish('big', 'small')).offset, 2);
  assert.equal(c.sockets.length, 1);
  assert.equal(c.sockets[0].closed, undefined, 'never sent: no 1009 from the gateway');
  assert.deepEqual(c.states, ['open']);
});
