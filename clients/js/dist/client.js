// lambda-rust-websocket client (protocol lrw.v1). Generated from src/ by `npm run build`; do not edit.

// src/util.ts
function backoffDelay(attempt, minMs, maxMs, random = Math.random) {
  const ceiling = Math.min(maxMs, minMs * Math.pow(2, Math.min(attempt + 1, 30)));
  return minMs + random() * Math.max(0, ceiling - minMs);
}
function between(min, max, random = Math.random) {
  return min + random() * Math.max(0, max - min);
}
function tokenExpiry(token) {
  const part = token.split(".")[1];
  if (!part) return void 0;
  try {
    let b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    while (b64.length % 4) b64 += "=";
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims?.exp === "number" && isFinite(claims.exp) ? claims.exp * 1e3 : void 0;
  } catch {
    return void 0;
  }
}
var CHANNEL = /^[A-Za-z0-9_.:-]{1,128}$/;
function isChannelName(name) {
  return typeof name === "string" && CHANNEL.test(name);
}
function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 128) n += 1;
    else if (c < 2048) n += 2;
    else if (c >= 55296 && c < 56320 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 56320 && d < 57344) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
var LrwError = class extends Error {
  constructor(code, message) {
    super(message);
    this.name = "LrwError";
    this.code = code;
  }
};
var MAX_DELAY = 2147483647;
function later(fn, ms) {
  return setTimeout(fn, Math.min(Math.max(0, ms), MAX_DELAY));
}

// src/subscription.ts
var MAX_HELD = 1e4;
var OWN = /* @__PURE__ */ Symbol("own publish");
var Subscription = class {
  constructor(host, channel, options = {}) {
    this._state = "subscribing";
    this._baselined = false;
    this._known = 0;
    this._holesBelow = 0;
    this._buffer = /* @__PURE__ */ new Map();
    /** The last presence event passed on, by subject. */
    this._lastPresence = /* @__PURE__ */ new Map();
    /** Offsets skipped as holes (the latest ones), to report one that turns up after all. */
    this._skipped = /* @__PURE__ */ new Set();
    this._early = [];
    this._otherEpoch = [];
    /** Subscribe commands in flight (internal). */
    this._inflight = 0;
    /** Retry count after transient subscribe failures (internal). */
    this._retries = 0;
    this._settled = false;
    this._host = host;
    this.channel = channel;
    this._opts = options;
    this.ready = new Promise((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    this.ready.catch(() => void 0);
    if (options.since) {
      this._offset = options.since.offset;
      this._epoch = options.since.epoch;
      this._known = options.since.offset;
      this._holesBelow = options.since.offset;
      this._baselined = true;
    }
  }
  get state() {
    return this._state;
  }
  /** The last offset delivered and its epoch (store it to resume with `since`). */
  get position() {
    return this._offset !== void 0 && this._epoch !== void 0 ? { offset: this._offset, epoch: this._epoch } : void 0;
  }
  /** Stops delivery at once, then tells the server. Resolves on its reply. */
  unsubscribe() {
    return this._host.unsubscribeSub(this);
  }
  /** The channel's presence (`{"type":"presence",…}`). */
  presence() {
    return this._host.presence(this.channel);
  }
  // ---- called by the client ------------------------------------------------
  /** Starts a subscribe command: what to send as `since`, and what is known now. */
  _begin() {
    this._inflight++;
    if (this._state !== "unsubscribed") this._state = "subscribing";
    return { since: this.position, knownAtSend: this._known };
  }
  _lostSocket() {
    if (this._state === "subscribed") this._state = "subscribing";
    this._lastPresence.clear();
  }
  _subscribed(reply, since, knownAtSend) {
    this._inflight--;
    if (this._state === "unsubscribed") return;
    this._state = "subscribed";
    this._retries = 0;
    const latest = typeof reply.offset === "number" ? reply.offset : void 0;
    const epoch = typeof reply.epoch === "string" ? reply.epoch : void 0;
    if (since) {
      if (epoch !== void 0 && epoch !== since.epoch) {
        this._switchEpoch(epoch, latest ?? 0);
      } else if (reply.recovered !== true) {
        this._notRecovered(latest);
      } else {
        this._holesBelow = Math.max(this._holesBelow, knownAtSend);
        if (latest !== void 0) this._known = Math.max(this._known, latest);
      }
    } else if (!this._baselined) {
      this._baselined = true;
      this._offset = latest;
      this._epoch = epoch;
      if (latest !== void 0) this._known = this._holesBelow = latest;
      const early = this._early;
      this._early = [];
      for (const m of early) this._message(m);
    } else {
      if (this._epoch === void 0 && epoch !== void 0) this._epoch = epoch;
      if (latest !== void 0) this._known = Math.max(this._known, latest);
    }
    if (this._otherEpoch.length) {
      const other = this._otherEpoch;
      this._otherEpoch = [];
      for (const m of other) this._message(m);
    }
    this._check();
    if (!this._settled) {
      this._settled = true;
      this._resolve(reply);
    }
    this._call(this._opts.onSubscribed, reply);
  }
  /** A subscribe command failed; `permanent` drops the subscription. */
  _subscribeFailed(error, permanent) {
    this._inflight--;
    if (permanent && this._state !== "unsubscribed") {
      this._close(error);
      this._call(this._opts.onError, error);
    } else if (this._state !== "unsubscribed") {
      this._check();
    }
  }
  /** Marks the subscription gone locally; no callback is called after this. */
  _close(reason) {
    this._state = "unsubscribed";
    if (this._gapTimer !== void 0) clearTimeout(this._gapTimer);
    if (this._retryTimer !== void 0) clearTimeout(this._retryTimer);
    this._gapTimer = this._retryTimer = void 0;
    this._buffer.clear();
    this._early = [];
    this._otherEpoch = [];
    if (!this._settled) {
      this._settled = true;
      this._reject(reason);
    }
  }
  /**
   * This connection published `offset` without `self`: the server sends it to
   * every member but us, so that offset is no gap. It takes the offset's place
   * (a copy that comes anyway, e.g. in a replay, is not delivered either).
   */
  _ownPublish(offset) {
    if (this._state === "unsubscribed") return;
    const m = { type: "message", channel: this.channel, data: void 0, offset, epoch: this._epoch, [OWN]: true };
    this._message(m);
  }
  _message(m) {
    if (this._state === "unsubscribed") return;
    if (m[OWN] && this._baselined) m.epoch = this._epoch ?? m.epoch;
    if (!this._baselined) {
      if (this._early.length < MAX_HELD) this._early.push(m);
      return;
    }
    if (this._offset === void 0) {
      this._offset = m.offset - 1;
      this._known = this._holesBelow = this._offset;
    }
    if (this._epoch === void 0) {
      this._epoch = m.epoch;
    } else if (m.epoch !== this._epoch) {
      if (this._inflight > 0) {
        if (this._otherEpoch.length < MAX_HELD) this._otherEpoch.push(m);
        return;
      }
      this._switchEpoch(m.epoch, m.offset - 1);
    }
    if (m.offset <= this._offset || this._buffer.has(m.offset)) {
      if (this._skipped.delete(m.offset) && !m[OWN]) {
        const position = { offset: this._offset, epoch: this._epoch };
        this._report({ channel: this.channel, reason: "late", previous: this.position, current: position, message: m });
      }
      return;
    }
    if (this._buffer.size >= MAX_HELD) {
      this._notRecovered(m.offset - 1);
    }
    this._buffer.set(m.offset, m);
    if (m.offset > this._known) this._known = m.offset;
    this._check();
  }
  _presence(event) {
    if (this._state === "unsubscribed") return;
    if (this._lastPresence.get(event.subject) === event.type) return;
    if (this._lastPresence.size >= MAX_HELD) this._lastPresence.clear();
    this._lastPresence.set(event.subject, event.type);
    this._call(this._opts.onPresence, event);
    this._call(event.type === "join" ? this._opts.onJoin : this._opts.onLeave, event.subject, event);
  }
  // ---- stream --------------------------------------------------------------
  _deliver(m) {
    this._buffer.delete(m.offset);
    this._offset = m.offset;
    if (!m[OWN]) this._call(this._opts.onMessage, m);
  }
  /** Delivers what is contiguous; starts or stops the gap timer. */
  _check() {
    if (this._state === "unsubscribed" || this._offset === void 0) return;
    let next;
    while ((next = this._buffer.get(this._offset + 1)) !== void 0) this._deliver(next);
    if (this._known > this._offset) {
      if (this._gapTimer === void 0) {
        this._gapTimer = later(() => this._gapDue(), this._host.gapWaitMs);
      }
    } else if (this._gapTimer !== void 0) {
      clearTimeout(this._gapTimer);
      this._gapTimer = void 0;
    }
  }
  _gapDue() {
    this._gapTimer = void 0;
    if (this._state === "unsubscribed" || this._offset === void 0) return;
    if (this._inflight > 0) {
      return;
    }
    while (this._offset < this._holesBelow) {
      const m = this._buffer.get(this._offset + 1);
      if (m) this._deliver(m);
      else {
        this._offset++;
        this._skipped.add(this._offset);
        if (this._skipped.size > 1e3) this._skipped.delete(this._skipped.values().next().value);
      }
    }
    let next;
    while ((next = this._buffer.get(this._offset + 1)) !== void 0) this._deliver(next);
    if (this._known > this._offset) this._host.resubscribeForGap(this);
  }
  /** recovered:false: deliver what we hold up to `latest`, go on from there, report. */
  _notRecovered(latest) {
    const previous = this.position;
    const held = [...this._buffer.values()].sort((a, b) => a.offset - b.offset);
    for (const m of held) if (latest === void 0 || m.offset <= latest) this._deliver(m);
    if (latest !== void 0 && (this._offset === void 0 || latest > this._offset)) this._offset = latest;
    const offset = this._offset ?? 0;
    this._known = Math.max(this._known, offset);
    this._holesBelow = Math.max(this._holesBelow, offset);
    this._report({ channel: this.channel, reason: "not_recovered", previous, current: { offset, epoch: this._epoch } });
  }
  /** A new epoch: history was lost. Deliver what we hold of the old one, then start over. */
  _switchEpoch(epoch, base) {
    const previous = this.position;
    const held = [...this._buffer.values()].sort((a, b) => a.offset - b.offset);
    for (const m of held) this._deliver(m);
    this._epoch = epoch;
    this._offset = this._known = this._holesBelow = base;
    this._skipped.clear();
    this._report({ channel: this.channel, reason: "epoch_changed", previous, current: { offset: base, epoch } });
  }
  _report(info) {
    this._call(this._opts.onRecoveryFailed, info);
    this._host.recoveryFailed(info);
  }
  _call(fn, ...args) {
    if (!fn) return;
    try {
      fn(...args);
    } catch (error) {
      this._host.report(error);
    }
  }
};

// src/types.ts
var PROTOCOL = "lrw.v1";

// src/client.ts
var DEFAULTS = {
  backoffMinMs: 1e3,
  backoffMaxMs: 6e4,
  pingIntervalMs: 9 * 6e4,
  rolloverMinMs: 100 * 6e4,
  rolloverMaxMs: 110 * 6e4,
  commandTimeoutMs: 1e4,
  connectTimeoutMs: 1e4,
  gapWaitMs: 2e3,
  tokenRefreshMarginMs: 6e4
};
var MAX_FRAME = 32 * 1024;
var PERMANENT = /* @__PURE__ */ new Set([400, 403, 413, 429]);
var Conn = class {
  constructor(ws, role, serverToken) {
    this.ws = ws;
    this.role = role;
    this.serverToken = serverToken;
    this.opened = false;
    this.dead = false;
    this.pending = /* @__PURE__ */ new Map();
    /** Ids of pings awaiting a pong, oldest first (a pong without id answers the oldest). */
    this.pings = [];
    this.lastSent = Date.now();
  }
  clearTimers() {
    clearTimeout(this.pingTimer);
    clearTimeout(this.rolloverTimer);
    clearTimeout(this.connectTimer);
  }
};
var Client = class {
  constructor(url, options = {}) {
    this._everOpen = false;
    this._old = /* @__PURE__ */ new Set();
    this._subs = /* @__PURE__ */ new Map();
    this._chains = /* @__PURE__ */ new Map();
    this._listeners = {
      state: /* @__PURE__ */ new Set(),
      recoveryFailed: /* @__PURE__ */ new Set(),
      error: /* @__PURE__ */ new Set()
    };
    this._waiters = [];
    this._nextId = 1;
    this._attempt = 0;
    this._rolloverAttempt = 0;
    this._failedHandshakes = 0;
    /** Bumped by close(): a connect started before it must not go on. */
    this._generation = 0;
    this.url = url;
    const o = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS)) {
      const v = options[k];
      if (v !== void 0) {
        if (typeof v !== "number" || !(v >= 0)) throw new TypeError(`${k} must be a number ≥ 0`);
        o[k] = v;
      }
    }
    if (o.backoffMaxMs < o.backoffMinMs) o.backoffMaxMs = o.backoffMinMs;
    if (o.rolloverMaxMs < o.rolloverMinMs) o.rolloverMaxMs = o.rolloverMinMs;
    this._o = o;
    this._getToken = options.getToken;
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    const self = this;
    this._host = {
      gapWaitMs: o.gapWaitMs,
      resubscribeForGap: (sub) => {
        const conn = self._primary;
        if (conn && conn.opened && !conn.dead) void self._subscribeOn(sub, conn);
      },
      unsubscribeSub: (sub) => self._unsubscribe(sub),
      presence: (channel) => self.presence(channel),
      report: (error) => self._emit("error", error),
      recoveryFailed: (info) => self._emit("recoveryFailed", info)
    };
    if (options.autoConnect === false) {
      this._state = "closed";
    } else {
      this._state = "connecting";
      void this._open("connect", this._generation);
    }
  }
  /** connecting (before the first open), open, reconnecting (after a drop), closed (after close()). */
  get state() {
    return this._state;
  }
  /** Subscribes to an event; returns a function that unsubscribes. */
  on(event, listener) {
    this._listeners[event].add(listener);
    return () => this.off(event, listener);
  }
  off(event, listener) {
    this._listeners[event].delete(listener);
  }
  /** Connects (again) after close() or with autoConnect false; subscriptions held are resumed with `since`. */
  connect() {
    if (this._state !== "closed") return;
    this._setState("connecting");
    if (this._token) this._setToken(this._token);
    void this._open("connect", this._generation);
  }
  /** Closes every socket and stops reconnecting. Pending commands reject with code `closed`. */
  close() {
    if (this._state === "closed") return;
    this._generation++;
    clearTimeout(this._reconnectTimer);
    clearTimeout(this._tokenTimer);
    this._reconnectTimer = this._tokenTimer = void 0;
    const conns = [this._primary, this._connecting, this._next, ...this._old];
    this._primary = this._connecting = this._next = void 0;
    this._old.clear();
    this._setState("closed");
    for (const c of conns) if (c) this._kill(c, 1e3, "client closed", new LrwError("closed", "client closed"));
    for (const w of this._waiters) {
      clearTimeout(w.timer);
      w.reject(new LrwError("closed", "client closed"));
    }
    this._waiters = [];
    for (const sub of this._subs.values()) {
      clearTimeout(sub._retryTimer);
      sub._lostSocket();
    }
  }
  /**
   * Subscribes to a channel; delivery starts after the channel's latest
   * offset (or after `options.since`) and survives reconnects and rollovers.
   * Throws on a bad channel name or a second subscription to the same channel.
   */
  subscribe(channel, options = {}) {
    if (!isChannelName(channel)) throw new LrwError(400, `bad channel name: ${JSON.stringify(channel)}`);
    if (this._subs.has(channel)) throw new Error(`already subscribed to ${channel}`);
    const sub = new Subscription(this._host, channel, options);
    this._subs.set(channel, sub);
    for (const conn of [this._primary, this._next]) {
      if (conn && conn.opened && !conn.dead) void this._subscribeOn(sub, conn);
    }
    return sub;
  }
  /** The subscription to a channel, if any. */
  getSubscription(channel) {
    return this._subs.get(channel);
  }
  /** Every subscription held. */
  subscriptions() {
    return [...this._subs.values()];
  }
  /** Publishes `data` (any JSON value) to a channel; resolves with the server's `published` reply. */
  publish(channel, data, options = {}) {
    if (!isChannelName(channel)) return Promise.reject(new LrwError(400, `bad channel name: ${JSON.stringify(channel)}`));
    if (data === void 0) return Promise.reject(new LrwError(400, "publish needs data"));
    const frame = { action: "publish", channel, data };
    if (options.self) frame.self = true;
    if (options.key !== void 0) frame.key = options.key;
    return this._command(frame).then((reply) => {
      if (!options.self && reply.duplicate !== true && typeof reply.offset === "number") {
        this._subs.get(channel)?._ownPublish(reply.offset);
      }
      return reply;
    });
  }
  /** Who is on a channel: `{"type":"presence","channel","connections","subjects"}`. */
  presence(channel) {
    if (!isChannelName(channel)) return Promise.reject(new LrwError(400, `bad channel name: ${JSON.stringify(channel)}`));
    return this._command({ action: "presence", channel });
  }
  /** Sends a ping now; resolves on the pong. */
  async ping() {
    await this._command({ action: "ping" });
  }
  // ---- connection ------------------------------------------------------------
  async _open(role, generation) {
    let token;
    if (this._getToken) {
      try {
        token = await this._tokenForConnect();
      } catch (error) {
        if (generation !== this._generation) return;
        this._emit("error", error);
        this._failed(role);
        return;
      }
    }
    if (generation !== this._generation || this._state === "closed") return;
    if (role === "rollover" && (!this._primary || this._next)) return;
    const protocols = token ? [PROTOCOL, `token.${token}`] : [PROTOCOL];
    let ws;
    try {
      if (!this._WebSocket) throw new Error("no WebSocket constructor: pass options.WebSocket");
      ws = new this._WebSocket(this.url, protocols);
    } catch (error) {
      this._emit("error", error);
      this.close();
      return;
    }
    const conn = new Conn(ws, role === "connect" ? "connecting" : "next", token);
    if (role === "connect") this._connecting = conn;
    else this._next = conn;
    ws.onopen = () => this._onOpen(conn);
    ws.onmessage = (ev) => this._onFrame(conn, ev.data);
    ws.onclose = () => this._onClose(conn);
    ws.onerror = () => void 0;
    conn.connectTimer = later(() => {
      if (!conn.opened) this._kill(conn, 1e3, "handshake timeout", new LrwError("disconnected", "handshake timeout"));
    }, this._o.connectTimeoutMs);
  }
  /** A connect attempt failed before its socket existed. */
  _failed(role) {
    if (role === "connect") this._scheduleReconnect();
    else this._scheduleRolloverRetry();
  }
  _onOpen(conn) {
    if (conn.dead) return;
    clearTimeout(conn.connectTimer);
    conn.opened = true;
    this._failedHandshakes = 0;
    this._attempt = 0;
    if (conn.ws.protocol && conn.ws.protocol !== PROTOCOL) {
      this._emit("error", new Error(`server selected subprotocol ${conn.ws.protocol}, not ${PROTOCOL}`));
    }
    if (conn.role === "connecting") {
      this._connecting = void 0;
      this._promote(conn);
      this._everOpen = true;
      this._setState("open");
      void this._subscribeAll(conn);
    } else if (conn.role === "next") {
      void this._rollover(conn);
    }
  }
  /** Makes `conn` the socket commands go to. */
  _promote(conn) {
    conn.role = "primary";
    this._primary = conn;
    this._schedulePing(conn);
    clearTimeout(conn.rolloverTimer);
    conn.rolloverTimer = later(() => this._startRollover(), between(this._o.rolloverMinMs, this._o.rolloverMaxMs));
    const waiters = this._waiters;
    this._waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.resolve(conn);
    }
  }
  _startRollover() {
    if (this._state !== "open" || !this._primary || this._next) return;
    void this._open("rollover", this._generation);
  }
  _scheduleRolloverRetry() {
    const primary = this._primary;
    if (!primary || primary.dead || this._state === "closed") return;
    clearTimeout(primary.rolloverTimer);
    const delay = backoffDelay(this._rolloverAttempt++, this._o.backoffMinMs, this._o.backoffMaxMs);
    primary.rolloverTimer = later(() => this._startRollover(), delay);
  }
  /** The new socket is open: subscribe everything on it, then swap and close the old one. */
  async _rollover(next) {
    await this._subscribeAll(next);
    if (next.dead || next.role !== "next") return;
    const old = this._primary;
    this._next = void 0;
    this._rolloverAttempt = 0;
    this._promote(next);
    if (old) {
      old.role = "old";
      clearTimeout(old.pingTimer);
      clearTimeout(old.rolloverTimer);
      this._old.add(old);
      this._drain(old);
    }
  }
  /** Closes an old socket once its commands are answered (or time out). */
  _drain(old) {
    const done = () => {
      old.onIdle = void 0;
      clearTimeout(timer);
      this._kill(old, 1e3, "rollover", new LrwError("disconnected", "rollover"));
    };
    const timer = later(done, this._o.commandTimeoutMs);
    if (old.pending.size === 0) done();
    else old.onIdle = done;
  }
  _onClose(conn) {
    if (conn.dead) return;
    this._lose(conn, new LrwError("disconnected", "connection closed"));
  }
  /** Closes a socket on our side and handles it as lost. */
  _kill(conn, code, reason, error) {
    if (conn.dead) return;
    try {
      conn.ws.close(code, reason);
    } catch {
    }
    this._lose(conn, error);
  }
  _lose(conn, error) {
    conn.dead = true;
    conn.clearTimers();
    conn.ws.onopen = conn.ws.onmessage = conn.ws.onclose = null;
    conn.ws.onerror = () => void 0;
    for (const p of conn.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    conn.pending.clear();
    conn.pings.length = 0;
    if (!conn.opened) this._failedHandshakes++;
    if (this._state === "closed") return;
    switch (conn.role) {
      case "connecting":
        if (this._connecting === conn) this._connecting = void 0;
        this._scheduleReconnect();
        break;
      case "next":
        if (this._next === conn) this._next = void 0;
        this._scheduleRolloverRetry();
        break;
      case "old":
        this._old.delete(conn);
        break;
      case "primary": {
        if (this._primary !== conn) break;
        this._primary = void 0;
        for (const sub of this._subs.values()) sub._lostSocket();
        const next = this._next;
        if (next && next.opened) {
          this._next = void 0;
          this._promote(next);
        } else if (next) {
          next.role = "connecting";
          this._next = void 0;
          this._connecting = next;
          this._setState(this._everOpen ? "reconnecting" : "connecting");
        } else {
          this._setState(this._everOpen ? "reconnecting" : "connecting");
          this._scheduleReconnect();
        }
        break;
      }
    }
  }
  _scheduleReconnect() {
    if (this._state === "closed" || this._reconnectTimer !== void 0 || this._connecting) return;
    const delay = backoffDelay(this._attempt++, this._o.backoffMinMs, this._o.backoffMaxMs);
    const generation = this._generation;
    this._reconnectTimer = later(() => {
      this._reconnectTimer = void 0;
      if (generation === this._generation) void this._open("connect", generation);
    }, delay);
  }
  _setState(state) {
    const previous = this._state;
    if (previous === state) return;
    this._state = state;
    this._emit("state", state, previous);
  }
  _emit(event, ...args) {
    for (const fn of [...this._listeners[event]]) {
      try {
        fn(...args);
      } catch (error) {
        if (event !== "error") this._emit("error", error);
      }
    }
  }
  // ---- tokens ----------------------------------------------------------------
  _tokenForConnect() {
    if (this._failedHandshakes >= 2) {
      this._failedHandshakes = 0;
      return this._refreshToken("handshake");
    }
    if (!this._token) return this._refreshToken("connect");
    if (this._tokenExp !== void 0 && this._tokenExp - Date.now() < this._margin(this._tokenExp - Date.now())) {
      return this._refreshToken("expiring");
    }
    return Promise.resolve(this._token);
  }
  _margin(remaining) {
    return Math.min(this._o.tokenRefreshMarginMs, remaining / 2);
  }
  /** Calls getToken once for everyone who asks meanwhile. */
  _refreshToken(reason) {
    if (this._tokenPromise) return this._tokenPromise;
    const getToken = this._getToken;
    if (!getToken) return Promise.reject(new LrwError(401, "no getToken to refresh the token with"));
    const p = Promise.resolve().then(() => getToken({ reason })).then((token) => {
      if (typeof token !== "string" || token === "") throw new Error("getToken returned no token");
      this._setToken(token);
      return token;
    }).finally(() => {
      if (this._tokenPromise === p) this._tokenPromise = void 0;
    });
    this._tokenPromise = p;
    return p;
  }
  _setToken(token) {
    this._token = token;
    this._tokenExp = tokenExpiry(token);
    clearTimeout(this._tokenTimer);
    this._tokenTimer = void 0;
    if (this._tokenExp === void 0 || this._state === "closed") return;
    const remaining = this._tokenExp - Date.now();
    if (remaining <= 1e3) return;
    const delay = Math.max(1e3, remaining - this._margin(remaining));
    const generation = this._generation;
    this._tokenTimer = later(() => {
      this._tokenTimer = void 0;
      if (generation !== this._generation) return;
      this._refreshToken("expiring").catch((error) => this._emit("error", error));
    }, delay);
  }
  // ---- commands --------------------------------------------------------------
  /** Sends a command on the primary socket (waiting for one, within the timeout). */
  async _command(frame) {
    const deadline = Date.now() + this._o.commandTimeoutMs;
    const conn = await this._waitOpen(deadline);
    return this._send(conn, frame, deadline, true);
  }
  _waitOpen(deadline) {
    const p = this._primary;
    if (p && p.opened && !p.dead) return Promise.resolve(p);
    if (this._state === "closed") return Promise.reject(new LrwError("closed", "client closed"));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: later(() => {
          this._waiters = this._waiters.filter((w) => w !== waiter);
          reject(new LrwError("timeout", "not connected within the command timeout"));
        }, Math.max(0, deadline - Date.now()))
      };
      this._waiters.push(waiter);
    });
  }
  /** Sends one frame on `conn` and waits for the frame answering its id. */
  async _send(conn, frame, deadline, mayRetry, forceToken = false) {
    const id = String(this._nextId++);
    const { action, ...rest } = frame;
    const out = { action, id, ...rest };
    const token = this._token;
    if (token && action !== "ping" && (forceToken || conn.serverToken !== token)) out.token = token;
    const text = JSON.stringify(out);
    if (utf8Length(text) > MAX_FRAME) {
      throw new LrwError(413, `frame of ${utf8Length(text)} bytes: over the 32 KiB a client frame may have`);
    }
    if (conn.dead || !conn.opened) throw new LrwError("disconnected", "connection closed");
    const reply = await new Promise((resolve, reject) => {
      const settle = () => {
        conn.pending.delete(id);
        const i = conn.pings.indexOf(id);
        if (i >= 0) conn.pings.splice(i, 1);
        if (conn.pending.size === 0 && conn.onIdle) conn.onIdle();
      };
      const timer = later(() => {
        settle();
        reject(new LrwError("timeout", `no reply to ${String(action)} within ${this._o.commandTimeoutMs} ms`));
      }, Math.max(0, deadline - Date.now()));
      conn.pending.set(id, {
        resolve: (f) => {
          clearTimeout(timer);
          settle();
          resolve(f);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
        timer
      });
      if (action === "ping") conn.pings.push(id);
      try {
        conn.ws.send(text);
      } catch {
        clearTimeout(timer);
        settle();
        reject(new LrwError("disconnected", "send failed"));
        return;
      }
      conn.lastSent = Date.now();
      if (conn.role === "primary") this._schedulePing(conn);
    });
    if (reply.type === "error") {
      const code = typeof reply.code === "number" ? reply.code : 500;
      if (code === 401 && mayRetry && this._getToken) {
        try {
          await this._refreshToken("unauthorized");
        } catch (error) {
          this._emit("error", error);
          throw new LrwError(401, typeof reply.message === "string" ? reply.message : "unauthorized");
        }
        return this._send(conn, frame, Date.now() + this._o.commandTimeoutMs, false, true);
      }
      throw new LrwError(code, typeof reply.message === "string" ? reply.message : `error ${code}`);
    }
    if (typeof out.token === "string") conn.serverToken = out.token;
    return reply;
  }
  _schedulePing(conn) {
    clearTimeout(conn.pingTimer);
    const due = conn.lastSent + this._o.pingIntervalMs - Date.now();
    conn.pingTimer = later(() => this._pingDue(conn), Math.max(0, due));
  }
  _pingDue(conn) {
    if (conn.dead || conn.role !== "primary") return;
    if (Date.now() - conn.lastSent < this._o.pingIntervalMs) {
      this._schedulePing(conn);
      return;
    }
    this._send(conn, { action: "ping" }, Date.now() + this._o.commandTimeoutMs, false).catch((error) => {
      if (error.code === "timeout") this._kill(conn, 4e3, "ping timeout", new LrwError("disconnected", "ping timeout"));
    });
  }
  // ---- subscriptions -----------------------------------------------------------
  /** Runs subscribe/unsubscribe commands of one channel one after the other. */
  _chain(channel, task) {
    const previous = this._chains.get(channel) ?? Promise.resolve();
    const next = previous.then(task, task);
    this._chains.set(channel, next);
    void next.then(() => {
      if (this._chains.get(channel) === next) this._chains.delete(channel);
    });
    return next;
  }
  _subscribeAll(conn) {
    return Promise.all([...this._subs.values()].map((sub) => this._subscribeOn(sub, conn)));
  }
  /** Subscribes `sub` on `conn`, with `since` when it holds a position. Never rejects. */
  _subscribeOn(sub, conn) {
    return this._chain(sub.channel, async () => {
      if (sub.state === "unsubscribed" || conn.dead || this._subs.get(sub.channel) !== sub) return;
      clearTimeout(sub._retryTimer);
      sub._retryTimer = void 0;
      const { since, knownAtSend } = sub._begin();
      const frame = { action: "subscribe", channel: sub.channel };
      if (since) frame.since = since;
      let reply;
      try {
        reply = await this._send(conn, frame, Date.now() + this._o.commandTimeoutMs, true);
      } catch (e) {
        const error = e instanceof LrwError ? e : new LrwError("disconnected", String(e));
        const permanent = typeof error.code === "number" && PERMANENT.has(error.code);
        sub._subscribeFailed(error, permanent);
        if (permanent) {
          if (this._subs.get(sub.channel) === sub) this._subs.delete(sub.channel);
          this._emit("error", error);
        } else if (!conn.dead && this._state !== "closed") {
          const delay = backoffDelay(sub._retries++, this._o.backoffMinMs, this._o.backoffMaxMs);
          sub._retryTimer = later(() => {
            sub._retryTimer = void 0;
            const c = this._primary;
            if (c && c.opened && !c.dead) void this._subscribeOn(sub, c);
          }, delay);
        }
        return;
      }
      sub._subscribed(reply, since, knownAtSend);
    });
  }
  _unsubscribe(sub) {
    if (sub.state === "unsubscribed") return Promise.resolve();
    sub._close(new LrwError("unsubscribed", "unsubscribed"));
    if (this._subs.get(sub.channel) === sub) this._subs.delete(sub.channel);
    let result = Promise.resolve();
    for (const conn of [this._primary, this._next]) {
      if (!conn || !conn.opened || conn.dead) continue;
      let failure;
      const p = this._chain(sub.channel, async () => {
        if (conn.dead || this._subs.has(sub.channel)) return;
        try {
          await this._send(conn, { action: "unsubscribe", channel: sub.channel }, Date.now() + this._o.commandTimeoutMs, true);
        } catch (error) {
          failure = error;
        }
      });
      if (conn === this._primary) {
        result = p.then(() => {
          if (failure) throw failure;
        });
      }
    }
    return result;
  }
  // ---- frames ----------------------------------------------------------------
  _onFrame(conn, data) {
    if (conn.dead || typeof data !== "string") return;
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    if (!f || typeof f !== "object" || typeof f.type !== "string") return;
    switch (f.type) {
      case "message": {
        if (typeof f.channel !== "string" || typeof f.offset !== "number" || !Number.isSafeInteger(f.offset)) return;
        this._subs.get(f.channel)?._message(f);
        return;
      }
      case "join":
      case "leave": {
        if (typeof f.channel !== "string" || typeof f.subject !== "string") return;
        this._subs.get(f.channel)?._presence(f);
        return;
      }
      case "pong": {
        const id = typeof f.id === "string" && conn.pending.has(f.id) ? f.id : conn.pings[0];
        if (id !== void 0) conn.pending.get(id)?.resolve(f);
        return;
      }
      default: {
        const pending = typeof f.id === "string" ? conn.pending.get(f.id) : void 0;
        if (pending) pending.resolve(f);
        else if (f.type === "error") this._emit("error", new LrwError(typeof f.code === "number" ? f.code : 500, String(f.message)));
      }
    }
  }
};
export {
  Client,
  LrwError,
  PROTOCOL,
  Subscription,
  backoffDelay,
  isChannelName,
  tokenExpiry
};
