// A fake lambda-rust-websocket on 127.0.0.1: the WebSocket stage (protocol
// lrw.v1 and the raw echo), the HTTP publish/presence/tokens routes, and the
// page's files. It follows ARCHITECTURE.md ("Client protocol v1", "History,
// recovery and presence") so the same tests can later point at the real
// local gateway; `hooks` inject the faults a real network or API Gateway
// produces (dropped posts, lost replies, refused handshakes, idle cuts).
//
// Tokens are JWT-shaped but unsigned (the fake checks `exp`, `channels`,
// `publish` and `sub`, not the signature).

import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { WebSocketServer } from 'ws';

const CHANNEL = /^[A-Za-z0-9_.:-]{1,128}$/;
const MAX_FRAME = 32 * 1024;
const MAX_MESSAGE = 128 * 1024;

const b64url = (s) => Buffer.from(s).toString('base64url');

/** A JWT-shaped token with these claims (alg ES256 in the header, fake signature). */
export function fakeToken(claims) {
  const header = { alg: 'ES256', typ: 'JWT', kid: 'fake' };
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}.${b64url('not-a-signature')}`;
}

/** The claims of a token, or undefined. */
export function tokenClaims(token) {
  try {
    const claims = JSON.parse(Buffer.from(String(token).split('.')[1], 'base64url').toString('utf8'));
    return claims && typeof claims === 'object' ? claims : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a grant pattern (exact name, or prefix ending in `*`) covers a channel. */
export function granted(patterns, channel) {
  return (patterns || []).some((p) => (p.endsWith('*') ? channel.startsWith(p.slice(0, -1)) : p === channel));
}

const epochString = () => randomBytes(6).toString('hex');

/**
 * Starts the fake server on 127.0.0.1, port 0 unless `port` is given.
 *
 * options: auth ('none' | 'token'), stage ('staging'), idleTimeoutMs (0 = never:
 * API Gateway's 10-minute cut), maxLifetimeMs (0 = never: the 2-hour cut),
 * historyMax (1000), maxReplay (100), presenceEvents (true), pongWithoutId
 * (false: true answers pings as API Gateway's MOCK integration does),
 * deliveryJitterMs (0: posts of a publish arrive in random order within it),
 * commandJitterMs (0: each command frame runs after a random delay within it,
 * as concurrent invocations do, so replies come out of order),
 * page ({ dir, clientJs }: serve the page), port.
 */
export async function startFakeServer(options = {}) {
  const o = {
    auth: 'none',
    stage: 'staging',
    idleTimeoutMs: 0,
    maxLifetimeMs: 0,
    historyMax: 1000,
    maxReplay: 100,
    presenceEvents: true,
    pongWithoutId: false,
    deliveryJitterMs: 0,
    commandJitterMs: 0,
    page: undefined,
    port: 0,
    ...options,
  };

  /** Fault injection; set them on the returned object's `hooks`. */
  const hooks = {
    /** Leave this many handshakes unanswered (the socket stays open, silent). */
    stallHandshakes: 0,
    /** Refuse this many handshakes with this status (a browser sees 1006). */
    refuseHandshakes: 0,
    refuseStatus: 401,
    /** (conn, envelope) => true: the post of this message to this connection is lost. */
    dropDelivery: undefined,
    /** (conn, envelope) => true: a since-replay leaves this message out (as if published after the history read). */
    skipReplay: undefined,
    /** (conn, frame) => true: no reply; API Gateway's "Internal server error" frame instead. */
    swallowReply: undefined,
    /** (channel, offset) => true: the publish fails after taking its offset (a hole). */
    failPublish: undefined,
  };

  const channels = new Map();
  const conns = new Set();
  const stalled = new Set();
  /** Every frame a client sent: { conn: id, frame (parsed or text) }. */
  const frames = [];
  /** Every upgrade request: { url, protocols, refused }. */
  const handshakes = [];
  let nextConn = 1;

  function channel(name) {
    let ch = channels.get(name);
    if (!ch) {
      ch = { name, epoch: epochString(), offset: 0, history: [], trimmedThrough: 0, members: new Set(), keys: new Map(), peakMembers: 0 };
      channels.set(name, ch);
    }
    return ch;
  }

  function send(conn, obj) {
    if (conn.ws.readyState === 1) conn.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  function subjects(ch) {
    return [...new Set([...ch.members].map((c) => c.subject).filter((s) => s !== undefined))];
  }

  function presenceEvent(ch, type, subject) {
    if (!o.presenceEvents || subject === undefined) return;
    for (const m of ch.members) if (m.protocol === 'lrw.v1') send(m, { type, channel: ch.name, subject });
  }

  function join(conn, ch) {
    if (ch.members.has(conn)) return;
    const present = subjects(ch).includes(conn.subject);
    ch.members.add(conn);
    ch.peakMembers = Math.max(ch.peakMembers, ch.members.size);
    conn.channels.add(ch.name);
    if (!present) presenceEvent(ch, 'join', conn.subject);
  }

  function leave(conn, ch) {
    if (!ch.members.delete(conn)) return;
    conn.channels.delete(ch.name);
    if (!subjects(ch).includes(conn.subject)) presenceEvent(ch, 'leave', conn.subject);
  }

  function deliver(conn, envelope) {
    const text = conn.protocol === 'lrw.v1' ? JSON.stringify(envelope) : typeof envelope.data === 'string' ? envelope.data : JSON.stringify(envelope.data);
    if (o.deliveryJitterMs > 0) setTimeout(() => send(conn, text), Math.random() * o.deliveryJitterMs);
    else send(conn, text);
  }

  /** Publishes to a channel as HTTP or a socket would; returns the report or { error, message }. */
  function publish(name, data, { sender, self = false, key, encoding } = {}) {
    const ch = channel(name);
    if (key !== undefined && ch.keys.has(key)) {
      return { channel: name, offset: ch.keys.get(key), recipients: 0, delivered: 0, gone: 0, failed: 0, duplicate: true };
    }
    const offset = ++ch.offset;
    const envelope = { type: 'message', channel: name, data, offset, epoch: ch.epoch };
    if (encoding) envelope.encoding = encoding;
    if (sender?.subject !== undefined) envelope.from = sender.subject;
    if (Buffer.byteLength(JSON.stringify(envelope)) > MAX_MESSAGE) {
      ch.offset--;
      return { error: 413, message: 'message too large' };
    }
    if (hooks.failPublish?.(name, offset)) return { error: 503, message: 'service unavailable' };
    if (key !== undefined) ch.keys.set(key, offset);
    ch.history.push({ offset, envelope });
    while (ch.history.length > o.historyMax) ch.trimmedThrough = ch.history.shift().offset;
    let recipients = 0;
    let delivered = 0;
    let failed = 0;
    for (const m of ch.members) {
      if (m === sender && !self) continue;
      recipients++;
      if (hooks.dropDelivery?.(m, envelope)) failed++;
      else {
        deliver(m, envelope);
        delivered++;
      }
    }
    return { channel: name, offset, recipients, delivered, gone: 0, failed };
  }

  function grantsOf(claims) {
    if (o.auth !== 'token') return { channels: ['*'], publish: ['*'] };
    return { channels: Array.isArray(claims?.channels) ? claims.channels : [], publish: Array.isArray(claims?.publish) ? claims.publish : [] };
  }

  function validToken(token) {
    const claims = tokenClaims(token);
    if (!claims || typeof claims.exp !== 'number' || claims.exp * 1000 <= Date.now()) return undefined;
    return claims;
  }

  function onFrame(conn, raw, isBinary) {
    conn.lastRecv = Date.now();
    if (raw.length > MAX_FRAME) {
      conn.ws.close(1009, 'Message too big');
      return;
    }
    const text = raw.toString('utf8');
    let f;
    try {
      f = JSON.parse(text);
    } catch {
      f = undefined;
    }
    frames.push({ conn: conn.id, frame: f ?? text });
    const known = ['subscribe', 'unsubscribe', 'publish', 'presence', 'ping'];
    if (isBinary || conn.protocol !== 'lrw.v1' || !f || typeof f !== 'object' || !known.includes(f.action)) {
      conn.ws.send(raw, { binary: isBinary }); // echo, as the seed does
      return;
    }
    const id = f.id;
    const reply = (obj) => {
      if (hooks.swallowReply?.(conn, f)) {
        send(conn, { message: 'Internal server error', connectionId: conn.id, requestId: randomBytes(8).toString('hex') });
        return;
      }
      const { type, ...rest } = obj;
      send(conn, id !== undefined ? { type, id, ...rest } : obj);
    };
    const error = (code, message) => reply({ type: 'error', code, message });

    if (id !== undefined && (typeof id !== 'string' || id.length > 64)) return error(400, 'bad id');
    if (f.action === 'ping') return o.pongWithoutId ? send(conn, { type: 'pong' }) : reply({ type: 'pong' });

    if (f.token !== undefined) {
      const claims = validToken(f.token);
      if (!claims || (conn.subject !== undefined && claims.sub !== conn.subject)) return error(401, 'unauthorized');
      conn.tokenExp = claims.exp * 1000;
      const g = grantsOf(claims);
      conn.grants.channels.push(...g.channels);
      conn.grants.publish.push(...g.publish);
    }
    if (o.auth === 'token' && conn.tokenExp !== undefined && conn.tokenExp <= Date.now()) return error(401, 'unauthorized');
    const name = f.channel;
    if (typeof name !== 'string' || !CHANNEL.test(name)) return error(400, 'bad channel');

    switch (f.action) {
      case 'subscribe': {
        if (!granted(conn.grants.channels, name)) return error(403, 'forbidden');
        if (!conn.channels.has(name) && conn.channels.size >= 100) return error(429, 'too many subscriptions');
        const since = f.since;
        if (since !== undefined && (typeof since !== 'object' || typeof since.offset !== 'number' || typeof since.epoch !== 'string')) {
          return error(400, 'bad since');
        }
        const ch = channel(name);
        join(conn, ch); // membership first
        let recovered;
        if (since) {
          recovered = since.epoch === ch.epoch && since.offset >= ch.trimmedThrough;
          if (since.epoch === ch.epoch) {
            let kept = ch.history.filter((h) => h.offset > since.offset);
            if (kept.length > o.maxReplay) {
              recovered = false;
              kept = kept.slice(0, o.maxReplay);
            }
            for (const h of kept) if (!hooks.skipReplay?.(conn, h.envelope)) send(conn, h.envelope);
          }
        }
        const answer = { type: 'subscribed', channel: name, offset: ch.offset, epoch: ch.epoch };
        if (since) answer.recovered = recovered;
        return reply(answer);
      }
      case 'unsubscribe': {
        const ch = channels.get(name);
        if (ch) leave(conn, ch);
        return reply({ type: 'unsubscribed', channel: name });
      }
      case 'publish': {
        if (!('data' in f)) return error(400, 'publish needs data');
        if (!granted(conn.grants.publish, name)) return error(403, 'forbidden');
        const r = publish(name, f.data, { sender: conn, self: f.self === true, key: typeof f.key === 'string' ? f.key : undefined });
        if (r.error) return error(r.error, r.message);
        return reply({ type: 'published', ...r });
      }
      case 'presence': {
        if (!granted(conn.grants.channels, name)) return error(403, 'forbidden');
        const ch = channel(name);
        return reply({ type: 'presence', channel: name, connections: ch.members.size, subjects: subjects(ch).slice(0, 100) });
      }
    }
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE,
    handleProtocols: (protocols) => (protocols.has('lrw.v1') ? 'lrw.v1' : false),
  });

  const server = http.createServer((req, res) => {
    handleHttp(req, res).catch((err) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: String(err?.message ?? err) }));
    });
  });

  function refuse(socket, status, message) {
    const body = JSON.stringify({ message });
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const record = { url: req.url, protocols, refused: false };
    handshakes.push(record);
    const no = (status, message) => {
      record.refused = status;
      refuse(socket, status, message);
    };
    if (url.pathname !== `/${o.stage}` && url.pathname !== `/${o.stage}/`) return no(404, 'not found');
    if (hooks.stallHandshakes > 0) {
      hooks.stallHandshakes--;
      record.refused = 'stalled';
      stalled.add(socket);
      socket.once('close', () => stalled.delete(socket));
      return;
    }
    if (hooks.refuseHandshakes > 0) {
      hooks.refuseHandshakes--;
      return no(hooks.refuseStatus, 'refused');
    }
    const tokenProto = protocols.find((p) => p.startsWith('token.'));
    if (tokenProto && !protocols.includes('lrw.v1')) return no(400, 'token subprotocol without lrw.v1');
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    const token = tokenProto?.slice('token.'.length) ?? url.searchParams.get('token') ?? bearer;
    let claims;
    if (o.auth === 'token') {
      claims = token ? validToken(token) : undefined;
      if (!claims) return no(401, 'unauthorized');
    }
    const first = url.searchParams.get('channel');
    if (first !== null && !CHANNEL.test(first)) return no(400, 'bad channel');
    if (first !== null && o.auth === 'token' && !granted(claims.channels, first)) return no(403, 'forbidden');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = {
        id: `c${nextConn++}-${randomBytes(4).toString('hex')}`,
        ws,
        protocol: ws.protocol === 'lrw.v1' ? 'lrw.v1' : 'raw',
        subject: typeof claims?.sub === 'string' ? claims.sub : undefined,
        grants: grantsOf(claims),
        tokenExp: claims ? claims.exp * 1000 : undefined,
        channels: new Set(),
        lastRecv: Date.now(),
        connectedAt: Date.now(),
      };
      conns.add(conn);
      ws.on('message', (data, isBinary) => {
        if (o.commandJitterMs > 0) setTimeout(() => onFrame(conn, data, isBinary), Math.random() * o.commandJitterMs);
        else onFrame(conn, data, isBinary);
      });
      ws.on('close', () => {
        conns.delete(conn);
        for (const name of [...conn.channels]) leave(conn, channel(name));
      });
      if (conn.protocol === 'raw') join(conn, channel(first ?? 'default'));
      else if (first !== null) join(conn, channel(first));
    });
  });

  async function body(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return Buffer.concat(chunks);
  }

  function json(res, status, obj) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  }

  async function handleHttp(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const path = url.pathname;
    if (o.page && req.method === 'GET') {
      const files = {
        '/': ['index.html', 'text/html; charset=utf-8'],
        '/page.js': ['page.js', 'text/javascript; charset=utf-8'],
        '/page.css': ['page.css', 'text/css; charset=utf-8'],
      };
      if (files[path]) {
        res.writeHead(200, { 'content-type': files[path][1] });
        return res.end(await readFile(new URL(files[path][0], o.page.dir)));
      }
      if (path === '/client.js') {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
        return res.end(await readFile(o.page.clientJs));
      }
      if (path === '/config.json') return json(res, 200, { wsUrl: api.wsUrl, httpUrl: api.httpUrl, auth: o.auth });
    }
    const prefix = `/${o.stage}`;
    if (!path.startsWith(prefix)) return json(res, 404, { message: 'not found' });
    const rest = path.slice(prefix.length) || '/';
    if (rest === '/tokens') {
      if (req.method !== 'POST') return json(res, 405, { message: 'method not allowed' });
      const ask = JSON.parse((await body(req)).toString('utf8') || '{}');
      const ttl = Math.min(Number(ask.ttlSeconds ?? 3600), 86400);
      const now = Math.floor(Date.now() / 1000);
      const claims = { channels: ask.channels ?? [], publish: ask.publish ?? [], sub: ask.subject, iat: now, exp: now + ttl, aud: 'fake', iss: 'fake' };
      return json(res, 200, { token: fakeToken(claims), expiresAt: claims.exp, channels: claims.channels });
    }
    let m;
    let name;
    let sub = '';
    if (rest === '/') name = 'default';
    else if ((m = /^\/channels\/([^/]+)(\/presence)?$/.exec(rest))) {
      name = decodeURIComponent(m[1]);
      sub = m[2] ?? '';
    } else return json(res, 404, { message: 'not found' });
    if (!CHANNEL.test(name)) return json(res, 400, { message: 'bad channel' });
    if (sub === '/presence') {
      if (req.method !== 'GET') return json(res, 405, { message: 'method not allowed' });
      const ch = channel(name);
      return json(res, 200, { type: 'presence', channel: name, connections: ch.members.size, subjects: subjects(ch).slice(0, 100) });
    }
    if (req.method === 'GET' && rest !== '/') return json(res, 200, { channel: name, connections: channel(name).members.size });
    if (req.method !== 'POST') return json(res, 405, { message: 'method not allowed' });
    const raw = await body(req);
    if (raw.length === 0) return json(res, 400, { message: 'empty body' });
    let data;
    let encoding;
    if (String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      try {
        data = JSON.parse(raw.toString('utf8'));
      } catch {
        data = undefined;
      }
    }
    if (data === undefined) {
      const text = raw.toString('utf8');
      if (Buffer.from(text, 'utf8').equals(raw)) data = text;
      else {
        data = raw.toString('base64');
        encoding = 'base64';
      }
    }
    const r = publish(name, data, { encoding, key: req.headers['idempotency-key'] });
    if (r.error) return json(res, r.error, { message: r.message });
    return json(res, 200, r);
  }

  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const c of conns) {
      if (o.idleTimeoutMs > 0 && now - c.lastRecv > o.idleTimeoutMs) c.ws.close(1001, 'Going away');
      else if (o.maxLifetimeMs > 0 && now - c.connectedAt > o.maxLifetimeMs) c.ws.close(1001, 'Going away');
    }
  }, 10);
  sweeper.unref();

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();

  const api = {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/${o.stage}`,
    httpUrl: `http://127.0.0.1:${port}/${o.stage}`,
    hooks,
    frames,
    handshakes,
    /** Live connections (their `channels`, `subject`, `id`). */
    connections: () => [...conns],
    /** A channel's state: { epoch, offset, history, members }. */
    channel: (name) => channel(name),
    publish: (name, data) => publish(name, data),
    /** Cuts every socket abruptly (the client sees 1006). */
    dropAll() {
      for (const c of conns) c.ws.terminate();
    },
    /** A new epoch: the channel's counter item was lost with its history. */
    resetChannel(name) {
      const ch = channel(name);
      Object.assign(ch, { epoch: epochString(), offset: 0, history: [], trimmedThrough: 0, keys: new Map() });
    },
    /** History up to `through` expires. */
    trimHistory(name, through) {
      const ch = channel(name);
      ch.history = ch.history.filter((h) => h.offset > through);
      ch.trimmedThrough = Math.max(ch.trimmedThrough, through);
    },
    mintToken: (claims) => fakeToken(claims),
    async close() {
      clearInterval(sweeper);
      for (const c of conns) c.ws.terminate();
      for (const socket of stalled) socket.destroy();
      wss.close();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return api;
}
