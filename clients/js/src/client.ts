// The client: one logical connection (a WebSocket, two during a rollover)
// carrying many channel subscriptions, commands matched to replies by id.

import { Subscription, type SubscriptionHost, type SubscriptionOptions } from './subscription.js';
import {
  PROTOCOL,
  type ClientState,
  type Message,
  type PresenceEvent,
  type PresenceReply,
  type PublishReply,
  type RecoveryFailure,
  type SubscribedReply,
  type TokenReason,
  type WebSocketConstructor,
  type WebSocketLike,
} from './types.js';
import { LrwError, backoffDelay, between, isChannelName, later, tokenExpiry, utf8Length } from './util.js';

/** Options of {@link Client}; every timing is one, so tests can shrink hours to seconds. */
export interface ClientOptions {
  /**
   * Returns a JWT for the `token.<JWT>` subprotocol. Called before the first
   * connect, before the token's `exp` (see `tokenRefreshMarginMs`), after two
   * failed handshakes in a row and when a command answers 401. Without it the
   * client offers `lrw.v1` alone (open mode).
   */
  getToken?: (context: { reason: TokenReason }) => string | Promise<string>;
  /** WebSocket constructor. Default: `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** Reconnect backoff floor (full jitter, exponential). Default 1,000 ms. */
  backoffMinMs?: number;
  /** Reconnect backoff ceiling. Default 60,000 ms. */
  backoffMaxMs?: number;
  /** A ping after this long without sending anything (API Gateway cuts at 10 idle minutes). Default 540,000 ms (9 min). */
  pingIntervalMs?: number;
  /** Planned rollover, drawn per connection in [min, max] (API Gateway cuts at 2 h). Default 6,000,000 ms (100 min). */
  rolloverMinMs?: number;
  /** Default 6,600,000 ms (110 min). */
  rolloverMaxMs?: number;
  /** Every command (subscribe, unsubscribe, publish, presence, ping) fails after this long without a reply. Default 10,000 ms. */
  commandTimeoutMs?: number;
  /** A handshake not done by then counts as failed. Default 10,000 ms. */
  connectTimeoutMs?: number;
  /** How long missing offsets may take to arrive before a re-subscribe with `since` fetches them. Default 2,000 ms. */
  gapWaitMs?: number;
  /** getToken is called this long before `exp` (at most half the token's remaining life). Default 60,000 ms. */
  tokenRefreshMarginMs?: number;
  /** Connect on construction. Default true; otherwise call `connect()`. */
  autoConnect?: boolean;
}

/** Events of {@link Client}. */
export interface ClientEvents {
  /** The connection state changed. */
  state: (state: ClientState, previous: ClientState) => void;
  /** A subscription could not be recovered without loss (also sent to its own onRecoveryFailed). */
  recoveryFailed: (info: RecoveryFailure) => void;
  /** Something went wrong that no promise reports (getToken failed, a callback threw, an error frame without id). */
  error: (error: unknown) => void;
}

export interface PublishOptions {
  /** Deliver to the publishing connection too. */
  self?: boolean;
  /** Idempotency key: a repeat within 10 minutes is answered `duplicate:true` and not delivered. */
  key?: string;
}

const DEFAULTS = {
  backoffMinMs: 1_000,
  backoffMaxMs: 60_000,
  pingIntervalMs: 9 * 60_000,
  rolloverMinMs: 100 * 60_000,
  rolloverMaxMs: 110 * 60_000,
  commandTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  gapWaitMs: 2_000,
  tokenRefreshMarginMs: 60_000,
};

/** API Gateway closes a connection (1009) on a client frame over 32 KiB. */
const MAX_FRAME = 32 * 1024;
/** Codes after which retrying a subscribe cannot help. */
const PERMANENT = new Set([400, 403, 413, 429]);

type Timer = ReturnType<typeof setTimeout>;
type Role = 'connecting' | 'primary' | 'next' | 'old';
type Reply = { type: string; id?: string; code?: number; message?: string; [k: string]: unknown };

interface Pending {
  resolve: (frame: Reply) => void;
  reject: (error: LrwError) => void;
  timer: Timer;
}

/** One WebSocket. */
class Conn {
  opened = false;
  dead = false;
  readonly pending = new Map<string, Pending>();
  /** Ids of pings awaiting a pong, oldest first (a pong without id answers the oldest). */
  readonly pings: string[] = [];
  lastSent = Date.now();
  pingTimer: Timer | undefined;
  rolloverTimer: Timer | undefined;
  connectTimer: Timer | undefined;
  /** Called when `pending` empties (drain before closing an old socket). */
  onIdle: (() => void) | undefined;
  constructor(
    readonly ws: WebSocketLike,
    public role: Role,
    /** The newest token the server has for this connection. */
    public serverToken: string | undefined,
  ) {}
  clearTimers(): void {
    clearTimeout(this.pingTimer);
    clearTimeout(this.rolloverTimer);
    clearTimeout(this.connectTimer);
  }
}

/**
 * A client of protocol lrw.v1.
 *
 * ```js
 * const c = new Client('wss://…/staging', { getToken });
 * const sub = c.subscribe('lobby', { onMessage: (m) => console.log(m.offset, m.data) });
 * await c.publish('lobby', { text: 'hi' });
 * ```
 */
export class Client {
  readonly url: string;
  private readonly _o: typeof DEFAULTS;
  private readonly _getToken: ClientOptions['getToken'];
  private readonly _WebSocket: WebSocketConstructor | undefined;

  private _state: ClientState;
  private _everOpen = false;
  private _primary: Conn | undefined;
  private _connecting: Conn | undefined;
  private _next: Conn | undefined;
  private readonly _old = new Set<Conn>();
  private readonly _subs = new Map<string, Subscription>();
  private readonly _chains = new Map<string, Promise<void>>();
  private readonly _listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = {
    state: new Set(),
    recoveryFailed: new Set(),
    error: new Set(),
  };
  private _waiters: Array<{ resolve: (c: Conn) => void; reject: (e: LrwError) => void; timer: Timer }> = [];
  private _nextId = 1;
  private _attempt = 0;
  private _rolloverAttempt = 0;
  private _failedHandshakes = 0;
  private _reconnectTimer: Timer | undefined;
  /** Bumped by close(): a connect started before it must not go on. */
  private _generation = 0;

  private _token: string | undefined;
  private _tokenExp: number | undefined;
  private _tokenTimer: Timer | undefined;
  private _tokenPromise: Promise<string> | undefined;

  private readonly _host: SubscriptionHost;

  constructor(url: string, options: ClientOptions = {}) {
    this.url = url;
    const o = { ...DEFAULTS };
    for (const k of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
      const v = options[k];
      if (v !== undefined) {
        if (typeof v !== 'number' || !(v >= 0)) throw new TypeError(`${k} must be a number ≥ 0`);
        o[k] = v;
      }
    }
    if (o.backoffMaxMs < o.backoffMinMs) o.backoffMaxMs = o.backoffMinMs;
    if (o.rolloverMaxMs < o.rolloverMinMs) o.rolloverMaxMs = o.rolloverMinMs;
    this._o = o;
    this._getToken = options.getToken;
    this._WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const self = this;
    this._host = {
      gapWaitMs: o.gapWaitMs,
      resubscribeForGap: (sub) => {
        const conn = self._primary;
        if (conn && conn.opened && !conn.dead) void self._subscribeOn(sub, conn);
      },
      unsubscribeSub: (sub) => self._unsubscribe(sub),
      presence: (channel) => self.presence(channel),
      report: (error) => self._emit('error', error),
      recoveryFailed: (info) => self._emit('recoveryFailed', info),
    };
    if (options.autoConnect === false) {
      this._state = 'closed';
    } else {
      this._state = 'connecting';
      void this._open('connect', this._generation);
    }
  }

  /** connecting (before the first open), open, reconnecting (after a drop), closed (after close()). */
  get state(): ClientState {
    return this._state;
  }

  /** Subscribes to an event; returns a function that unsubscribes. */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    this._listeners[event].add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): void {
    this._listeners[event].delete(listener);
  }

  /** Connects (again) after close() or with autoConnect false; subscriptions held are resumed with `since`. */
  connect(): void {
    if (this._state !== 'closed') return;
    this._setState('connecting');
    if (this._token) this._setToken(this._token); // re-arm the refresh timer close() stopped
    void this._open('connect', this._generation);
  }

  /** Closes every socket and stops reconnecting. Pending commands reject with code `closed`. */
  close(): void {
    if (this._state === 'closed') return;
    this._generation++;
    clearTimeout(this._reconnectTimer);
    clearTimeout(this._tokenTimer);
    this._reconnectTimer = this._tokenTimer = undefined;
    const conns = [this._primary, this._connecting, this._next, ...this._old];
    this._primary = this._connecting = this._next = undefined;
    this._old.clear();
    this._setState('closed');
    for (const c of conns) if (c) this._kill(c, 1000, 'client closed', new LrwError('closed', 'client closed'));
    for (const w of this._waiters) {
      clearTimeout(w.timer);
      w.reject(new LrwError('closed', 'client closed'));
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
  subscribe(channel: string, options: SubscriptionOptions = {}): Subscription {
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
  getSubscription(channel: string): Subscription | undefined {
    return this._subs.get(channel);
  }

  /** Every subscription held. */
  subscriptions(): Subscription[] {
    return [...this._subs.values()];
  }

  /** Publishes `data` (any JSON value) to a channel; resolves with the server's `published` reply. */
  publish(channel: string, data: unknown, options: PublishOptions = {}): Promise<PublishReply> {
    if (!isChannelName(channel)) return Promise.reject(new LrwError(400, `bad channel name: ${JSON.stringify(channel)}`));
    if (data === undefined) return Promise.reject(new LrwError(400, 'publish needs data'));
    const frame: Record<string, unknown> = { action: 'publish', channel, data };
    if (options.self) frame.self = true;
    if (options.key !== undefined) frame.key = options.key;
    return this._command(frame).then((reply) => {
      // Our own publish never comes back to us without self: its offset is no gap.
      if (!options.self && reply.duplicate !== true && typeof reply.offset === 'number') {
        this._subs.get(channel)?._ownPublish(reply.offset);
      }
      return reply as unknown as PublishReply;
    });
  }

  /** Who is on a channel: `{"type":"presence","channel","connections","subjects"}`. */
  presence(channel: string): Promise<PresenceReply> {
    if (!isChannelName(channel)) return Promise.reject(new LrwError(400, `bad channel name: ${JSON.stringify(channel)}`));
    return this._command({ action: 'presence', channel }) as Promise<unknown> as Promise<PresenceReply>;
  }

  /** Sends a ping now; resolves on the pong. */
  async ping(): Promise<void> {
    await this._command({ action: 'ping' });
  }

  // ---- connection ------------------------------------------------------------

  private async _open(role: 'connect' | 'rollover', generation: number): Promise<void> {
    let token: string | undefined;
    if (this._getToken) {
      try {
        token = await this._tokenForConnect();
      } catch (error) {
        if (generation !== this._generation) return;
        this._emit('error', error);
        this._failed(role);
        return;
      }
    }
    if (generation !== this._generation || this._state === 'closed') return;
    if (role === 'rollover' && (!this._primary || this._next)) return;
    const protocols = token ? [PROTOCOL, `token.${token}`] : [PROTOCOL];
    let ws: WebSocketLike;
    try {
      if (!this._WebSocket) throw new Error('no WebSocket constructor: pass options.WebSocket');
      ws = new this._WebSocket(this.url, protocols);
    } catch (error) {
      // A bad URL or no WebSocket: retrying cannot help.
      this._emit('error', error);
      this.close();
      return;
    }
    const conn = new Conn(ws, role === 'connect' ? 'connecting' : 'next', token);
    if (role === 'connect') this._connecting = conn;
    else this._next = conn;
    ws.onopen = () => this._onOpen(conn);
    ws.onmessage = (ev: { data: unknown }) => this._onFrame(conn, ev.data);
    ws.onclose = () => this._onClose(conn);
    ws.onerror = () => undefined; // a close event follows
    conn.connectTimer = later(() => {
      if (!conn.opened) this._kill(conn, 1000, 'handshake timeout', new LrwError('disconnected', 'handshake timeout'));
    }, this._o.connectTimeoutMs);
  }

  /** A connect attempt failed before its socket existed. */
  private _failed(role: 'connect' | 'rollover'): void {
    if (role === 'connect') this._scheduleReconnect();
    else this._scheduleRolloverRetry();
  }

  private _onOpen(conn: Conn): void {
    if (conn.dead) return;
    clearTimeout(conn.connectTimer);
    conn.opened = true;
    this._failedHandshakes = 0;
    this._attempt = 0;
    if (conn.ws.protocol && conn.ws.protocol !== PROTOCOL) {
      this._emit('error', new Error(`server selected subprotocol ${conn.ws.protocol}, not ${PROTOCOL}`));
    }
    if (conn.role === 'connecting') {
      this._connecting = undefined;
      this._promote(conn);
      this._everOpen = true;
      this._setState('open');
      void this._subscribeAll(conn);
    } else if (conn.role === 'next') {
      void this._rollover(conn);
    }
  }

  /** Makes `conn` the socket commands go to. */
  private _promote(conn: Conn): void {
    conn.role = 'primary';
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

  private _startRollover(): void {
    if (this._state !== 'open' || !this._primary || this._next) return;
    void this._open('rollover', this._generation);
  }

  private _scheduleRolloverRetry(): void {
    const primary = this._primary;
    if (!primary || primary.dead || this._state === 'closed') return;
    clearTimeout(primary.rolloverTimer);
    const delay = backoffDelay(this._rolloverAttempt++, this._o.backoffMinMs, this._o.backoffMaxMs);
    primary.rolloverTimer = later(() => this._startRollover(), delay);
  }

  /** The new socket is open: subscribe everything on it, then swap and close the old one. */
  private async _rollover(next: Conn): Promise<void> {
    await this._subscribeAll(next);
    if (next.dead || next.role !== 'next') return; // closed meanwhile, or promoted when the old one died
    const old = this._primary;
    this._next = undefined;
    this._rolloverAttempt = 0;
    this._promote(next);
    if (old) {
      old.role = 'old';
      clearTimeout(old.pingTimer);
      clearTimeout(old.rolloverTimer);
      this._old.add(old);
      this._drain(old);
    }
  }

  /** Closes an old socket once its commands are answered (or time out). */
  private _drain(old: Conn): void {
    const done = (): void => {
      old.onIdle = undefined;
      clearTimeout(timer);
      this._kill(old, 1000, 'rollover', new LrwError('disconnected', 'rollover'));
    };
    const timer = later(done, this._o.commandTimeoutMs);
    if (old.pending.size === 0) done();
    else old.onIdle = done;
  }

  private _onClose(conn: Conn): void {
    if (conn.dead) return;
    this._lose(conn, new LrwError('disconnected', 'connection closed'));
  }

  /** Closes a socket on our side and handles it as lost. */
  private _kill(conn: Conn, code: number, reason: string, error: LrwError): void {
    if (conn.dead) return;
    try {
      conn.ws.close(code, reason);
    } catch {
      // already closing
    }
    this._lose(conn, error);
  }

  private _lose(conn: Conn, error: LrwError): void {
    conn.dead = true;
    conn.clearTimers();
    conn.ws.onopen = conn.ws.onmessage = conn.ws.onclose = null;
    conn.ws.onerror = () => undefined; // some implementations (ws) throw on an error nobody listens to
    for (const p of conn.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    conn.pending.clear();
    conn.pings.length = 0;
    if (!conn.opened) this._failedHandshakes++;
    if (this._state === 'closed') return;
    switch (conn.role) {
      case 'connecting':
        if (this._connecting === conn) this._connecting = undefined;
        this._scheduleReconnect();
        break;
      case 'next':
        if (this._next === conn) this._next = undefined;
        this._scheduleRolloverRetry();
        break;
      case 'old':
        this._old.delete(conn);
        break;
      case 'primary': {
        if (this._primary !== conn) break;
        this._primary = undefined;
        for (const sub of this._subs.values()) sub._lostSocket();
        const next = this._next;
        if (next && next.opened) {
          // Mid-rollover: the new socket takes over at once; its subscribes are under way.
          this._next = undefined;
          this._promote(next);
        } else if (next) {
          next.role = 'connecting';
          this._next = undefined;
          this._connecting = next;
          this._setState(this._everOpen ? 'reconnecting' : 'connecting');
        } else {
          this._setState(this._everOpen ? 'reconnecting' : 'connecting');
          this._scheduleReconnect();
        }
        break;
      }
    }
  }

  private _scheduleReconnect(): void {
    if (this._state === 'closed' || this._reconnectTimer !== undefined || this._connecting) return;
    const delay = backoffDelay(this._attempt++, this._o.backoffMinMs, this._o.backoffMaxMs);
    const generation = this._generation;
    this._reconnectTimer = later(() => {
      this._reconnectTimer = undefined;
      if (generation === this._generation) void this._open('connect', generation);
    }, delay);
  }

  private _setState(state: ClientState): void {
    const previous = this._state;
    if (previous === state) return;
    this._state = state;
    this._emit('state', state, previous);
  }

  private _emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const fn of [...this._listeners[event]]) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch (error) {
        if (event !== 'error') this._emit('error', error);
      }
    }
  }

  // ---- tokens ----------------------------------------------------------------

  private _tokenForConnect(): Promise<string> {
    if (this._failedHandshakes >= 2) {
      // A browser cannot tell a refused handshake (401) from a network error.
      this._failedHandshakes = 0;
      return this._refreshToken('handshake');
    }
    if (!this._token) return this._refreshToken('connect');
    if (this._tokenExp !== undefined && this._tokenExp - Date.now() < this._margin(this._tokenExp - Date.now())) {
      return this._refreshToken('expiring');
    }
    return Promise.resolve(this._token);
  }

  private _margin(remaining: number): number {
    return Math.min(this._o.tokenRefreshMarginMs, remaining / 2);
  }

  /** Calls getToken once for everyone who asks meanwhile. */
  private _refreshToken(reason: TokenReason): Promise<string> {
    if (this._tokenPromise) return this._tokenPromise;
    const getToken = this._getToken;
    if (!getToken) return Promise.reject(new LrwError(401, 'no getToken to refresh the token with'));
    const p = Promise.resolve()
      .then(() => getToken({ reason }))
      .then((token) => {
        if (typeof token !== 'string' || token === '') throw new Error('getToken returned no token');
        this._setToken(token);
        return token;
      })
      .finally(() => {
        if (this._tokenPromise === p) this._tokenPromise = undefined;
      });
    this._tokenPromise = p;
    return p;
  }

  private _setToken(token: string): void {
    this._token = token;
    this._tokenExp = tokenExpiry(token);
    clearTimeout(this._tokenTimer);
    this._tokenTimer = undefined;
    if (this._tokenExp === undefined || this._state === 'closed') return;
    const remaining = this._tokenExp - Date.now();
    if (remaining <= 1_000) return; // expired or nearly: the next handshake or 401 asks again
    const delay = Math.max(1_000, remaining - this._margin(remaining));
    const generation = this._generation;
    this._tokenTimer = later(() => {
      this._tokenTimer = undefined;
      if (generation !== this._generation) return;
      // The fresh token rides on the next command of a live socket, and on the next handshake.
      this._refreshToken('expiring').catch((error) => this._emit('error', error));
    }, delay);
  }

  // ---- commands --------------------------------------------------------------

  /** Sends a command on the primary socket (waiting for one, within the timeout). */
  private async _command(frame: Record<string, unknown>): Promise<Reply> {
    const deadline = Date.now() + this._o.commandTimeoutMs;
    const conn = await this._waitOpen(deadline);
    return this._send(conn, frame, deadline, true);
  }

  private _waitOpen(deadline: number): Promise<Conn> {
    const p = this._primary;
    if (p && p.opened && !p.dead) return Promise.resolve(p);
    if (this._state === 'closed') return Promise.reject(new LrwError('closed', 'client closed'));
    return new Promise<Conn>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: later(() => {
          this._waiters = this._waiters.filter((w) => w !== waiter);
          reject(new LrwError('timeout', 'not connected within the command timeout'));
        }, Math.max(0, deadline - Date.now())),
      };
      this._waiters.push(waiter);
    });
  }

  /** Sends one frame on `conn` and waits for the frame answering its id. */
  private async _send(conn: Conn, frame: Record<string, unknown>, deadline: number, mayRetry: boolean, forceToken = false): Promise<Reply> {
    const id = String(this._nextId++);
    const { action, ...rest } = frame;
    const out: Record<string, unknown> = { action, id, ...rest };
    const token = this._token;
    if (token && action !== 'ping' && (forceToken || conn.serverToken !== token)) out.token = token;
    const text = JSON.stringify(out);
    if (utf8Length(text) > MAX_FRAME) {
      throw new LrwError(413, `frame of ${utf8Length(text)} bytes: over the 32 KiB a client frame may have`);
    }
    if (conn.dead || !conn.opened) throw new LrwError('disconnected', 'connection closed');
    const reply = await new Promise<Reply>((resolve, reject) => {
      const settle = (): void => {
        conn.pending.delete(id);
        const i = conn.pings.indexOf(id);
        if (i >= 0) conn.pings.splice(i, 1);
        if (conn.pending.size === 0 && conn.onIdle) conn.onIdle();
      };
      const timer = later(() => {
        settle();
        reject(new LrwError('timeout', `no reply to ${String(action)} within ${this._o.commandTimeoutMs} ms`));
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
        timer,
      });
      if (action === 'ping') conn.pings.push(id);
      try {
        conn.ws.send(text);
      } catch {
        clearTimeout(timer);
        settle();
        reject(new LrwError('disconnected', 'send failed'));
        return;
      }
      conn.lastSent = Date.now();
      if (conn.role === 'primary') this._schedulePing(conn);
    });
    if (reply.type === 'error') {
      const code = typeof reply.code === 'number' ? reply.code : 500;
      if (code === 401 && mayRetry && this._getToken) {
        // The token expired (or is refused): get a fresh one and retry once with it.
        try {
          await this._refreshToken('unauthorized');
        } catch (error) {
          this._emit('error', error);
          throw new LrwError(401, typeof reply.message === 'string' ? reply.message : 'unauthorized');
        }
        return this._send(conn, frame, Date.now() + this._o.commandTimeoutMs, false, true);
      }
      throw new LrwError(code, typeof reply.message === 'string' ? reply.message : `error ${code}`);
    }
    if (typeof out.token === 'string') conn.serverToken = out.token;
    return reply;
  }

  private _schedulePing(conn: Conn): void {
    clearTimeout(conn.pingTimer);
    const due = conn.lastSent + this._o.pingIntervalMs - Date.now();
    conn.pingTimer = later(() => this._pingDue(conn), Math.max(0, due));
  }

  private _pingDue(conn: Conn): void {
    if (conn.dead || conn.role !== 'primary') return;
    if (Date.now() - conn.lastSent < this._o.pingIntervalMs) {
      this._schedulePing(conn);
      return;
    }
    this._send(conn, { action: 'ping' }, Date.now() + this._o.commandTimeoutMs, false).catch((error: LrwError) => {
      // No pong: the socket is likely half-open. Replace it (subscriptions resume with since).
      if (error.code === 'timeout') this._kill(conn, 4000, 'ping timeout', new LrwError('disconnected', 'ping timeout'));
    });
  }

  // ---- subscriptions -----------------------------------------------------------

  /** Runs subscribe/unsubscribe commands of one channel one after the other. */
  private _chain(channel: string, task: () => Promise<void>): Promise<void> {
    const previous = this._chains.get(channel) ?? Promise.resolve();
    const next = previous.then(task, task);
    this._chains.set(channel, next);
    void next.then(() => {
      if (this._chains.get(channel) === next) this._chains.delete(channel);
    });
    return next;
  }

  private _subscribeAll(conn: Conn): Promise<unknown> {
    return Promise.all([...this._subs.values()].map((sub) => this._subscribeOn(sub, conn)));
  }

  /** Subscribes `sub` on `conn`, with `since` when it holds a position. Never rejects. */
  private _subscribeOn(sub: Subscription, conn: Conn): Promise<void> {
    return this._chain(sub.channel, async () => {
      if (sub.state === 'unsubscribed' || conn.dead || this._subs.get(sub.channel) !== sub) return;
      clearTimeout(sub._retryTimer);
      sub._retryTimer = undefined;
      const { since, knownAtSend } = sub._begin();
      const frame: Record<string, unknown> = { action: 'subscribe', channel: sub.channel };
      if (since) frame.since = since;
      let reply: Reply;
      try {
        reply = await this._send(conn, frame, Date.now() + this._o.commandTimeoutMs, true);
      } catch (e) {
        const error = e instanceof LrwError ? e : new LrwError('disconnected', String(e));
        const permanent = typeof error.code === 'number' && PERMANENT.has(error.code);
        sub._subscribeFailed(error, permanent);
        if (permanent) {
          if (this._subs.get(sub.channel) === sub) this._subs.delete(sub.channel);
          this._emit('error', error);
        } else if (!conn.dead && this._state !== 'closed') {
          // Timeout or 503 on a live socket: try again later on whichever socket is current.
          const delay = backoffDelay(sub._retries++, this._o.backoffMinMs, this._o.backoffMaxMs);
          sub._retryTimer = later(() => {
            sub._retryTimer = undefined;
            const c = this._primary;
            if (c && c.opened && !c.dead) void this._subscribeOn(sub, c);
          }, delay);
        }
        return;
      }
      sub._subscribed(reply as SubscribedReply, since, knownAtSend);
    });
  }

  private _unsubscribe(sub: Subscription): Promise<void> {
    if (sub.state === 'unsubscribed') return Promise.resolve();
    sub._close(new LrwError('unsubscribed', 'unsubscribed'));
    if (this._subs.get(sub.channel) === sub) this._subs.delete(sub.channel);
    let result: Promise<void> = Promise.resolve();
    for (const conn of [this._primary, this._next]) {
      if (!conn || !conn.opened || conn.dead) continue;
      let failure: unknown;
      const p = this._chain(sub.channel, async () => {
        if (conn.dead || this._subs.has(sub.channel)) return; // a new subscription took the channel
        try {
          await this._send(conn, { action: 'unsubscribe', channel: sub.channel }, Date.now() + this._o.commandTimeoutMs, true);
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

  private _onFrame(conn: Conn, data: unknown): void {
    if (conn.dead || typeof data !== 'string') return;
    let f: Reply;
    try {
      f = JSON.parse(data);
    } catch {
      return; // not ours
    }
    // API Gateway's own frames ({"message":"Internal server error",…}) and echoes have no type.
    if (!f || typeof f !== 'object' || typeof f.type !== 'string') return;
    switch (f.type) {
      case 'message': {
        if (typeof f.channel !== 'string' || typeof f.offset !== 'number' || !Number.isSafeInteger(f.offset)) return;
        this._subs.get(f.channel)?._message(f as unknown as Message);
        return;
      }
      case 'join':
      case 'leave': {
        if (typeof f.channel !== 'string' || typeof f.subject !== 'string') return;
        this._subs.get(f.channel)?._presence(f as unknown as PresenceEvent);
        return;
      }
      case 'pong': {
        const id = typeof f.id === 'string' && conn.pending.has(f.id) ? f.id : conn.pings[0];
        if (id !== undefined) conn.pending.get(id)?.resolve(f);
        return;
      }
      default: {
        const pending = typeof f.id === 'string' ? conn.pending.get(f.id) : undefined;
        if (pending) pending.resolve(f);
        else if (f.type === 'error') this._emit('error', new LrwError(typeof f.code === 'number' ? f.code : 500, String(f.message)));
      }
    }
  }
}
