// One channel's subscription: the stream state (offset, epoch, what is
// buffered, what is missing) and the application's callbacks. The client
// owns the sockets and sends the frames; this file decides what to deliver.

import type {
  Message,
  PresenceEvent,
  PresenceReply,
  RecoveryFailure,
  StreamPosition,
  SubscribedReply,
  SubscriptionState,
} from './types.js';
import { LrwError, later } from './util.js';

/** Callbacks and start position of a subscription. */
export interface SubscriptionOptions {
  /** Each offset of the channel at most once, in increasing order within an epoch. */
  onMessage?: (message: Message) => void;
  /** A presence event (join or leave) on this channel. */
  onPresence?: (event: PresenceEvent) => void;
  /** A subject joined the channel (its first connection subscribed). */
  onJoin?: (subject: string, event: PresenceEvent) => void;
  /** A subject left the channel (its last membership went). */
  onLeave?: (subject: string, event: PresenceEvent) => void;
  /**
   * Messages may have been lost: the server could not replay them
   * (`recovered:false`) or the channel's epoch changed. Reload the state.
   */
  onRecoveryFailed?: (info: RecoveryFailure) => void;
  /** Every confirmed (re)subscribe, with the server's reply. */
  onSubscribed?: (reply: SubscribedReply) => void;
  /** The server refused the subscription for good (400, 403, 413, 429); it is dropped. */
  onError?: (error: LrwError) => void;
  /** Resume from a stored position instead of the channel's latest offset. */
  since?: StreamPosition;
}

/** What a subscription needs from its client (internal). */
export interface SubscriptionHost {
  readonly gapWaitMs: number;
  resubscribeForGap(sub: Subscription): void;
  unsubscribeSub(sub: Subscription): Promise<void>;
  presence(channel: string): Promise<PresenceReply>;
  report(error: unknown): void;
  recoveryFailed(info: RecoveryFailure): void;
}

const MAX_HELD = 10_000;

/** Marks the stand-in for an offset this connection published without `self` (never delivered to it). */
const OWN = Symbol('own publish');
type Held = Message & { [OWN]?: true };

export class Subscription {
  readonly channel: string;
  /** Resolves at the first confirmed subscribe; rejects if refused or unsubscribed before. */
  readonly ready: Promise<SubscribedReply>;

  private _state: SubscriptionState = 'subscribing';
  private readonly _host: SubscriptionHost;
  private readonly _opts: SubscriptionOptions;

  // Stream state. `_offset` is the last offset delivered (or the baseline);
  // `_known` the highest offset known to exist; offsets up to `_holesBelow`
  // that are still missing at the next gap check were not replayed by a
  // since-subscribe that answered recovered:true, so they are holes left by
  // failed publishes and are skipped.
  private _offset: number | undefined;
  private _epoch: string | undefined;
  private _baselined = false;
  private _known = 0;
  private _holesBelow = 0;
  private readonly _buffer = new Map<number, Held>();
  /** The last presence event passed on, by subject. */
  private readonly _lastPresence = new Map<string, PresenceEvent['type']>();
  /** Offsets skipped as holes (the latest ones), to report one that turns up after all. */
  private readonly _skipped = new Set<number>();
  private _early: Held[] = [];
  private _otherEpoch: Held[] = [];
  private _gapTimer: ReturnType<typeof setTimeout> | undefined;

  /** Subscribe commands in flight (internal). */
  _inflight = 0;
  /** Retry count after transient subscribe failures (internal). */
  _retries = 0;
  _retryTimer: ReturnType<typeof setTimeout> | undefined;

  private _settled = false;
  private _resolve!: (reply: SubscribedReply) => void;
  private _reject!: (error: LrwError) => void;

  constructor(host: SubscriptionHost, channel: string, options: SubscriptionOptions = {}) {
    this._host = host;
    this.channel = channel;
    this._opts = options;
    this.ready = new Promise<SubscribedReply>((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    // An application that never looks at `ready` must not see an unhandled rejection.
    this.ready.catch(() => undefined);
    if (options.since) {
      this._offset = options.since.offset;
      this._epoch = options.since.epoch;
      this._known = options.since.offset;
      this._holesBelow = options.since.offset;
      this._baselined = true;
    }
  }

  get state(): SubscriptionState {
    return this._state;
  }

  /** The last offset delivered and its epoch (store it to resume with `since`). */
  get position(): StreamPosition | undefined {
    return this._offset !== undefined && this._epoch !== undefined
      ? { offset: this._offset, epoch: this._epoch }
      : undefined;
  }

  /** Stops delivery at once, then tells the server. Resolves on its reply. */
  unsubscribe(): Promise<void> {
    return this._host.unsubscribeSub(this);
  }

  /** The channel's presence (`{"type":"presence",…}`). */
  presence(): Promise<PresenceReply> {
    return this._host.presence(this.channel);
  }

  // ---- called by the client ------------------------------------------------

  /** Starts a subscribe command: what to send as `since`, and what is known now. */
  _begin(): { since: StreamPosition | undefined; knownAtSend: number } {
    this._inflight++;
    if (this._state !== 'unsubscribed') this._state = 'subscribing';
    return { since: this.position, knownAtSend: this._known };
  }

  _lostSocket(): void {
    if (this._state === 'subscribed') this._state = 'subscribing';
    // Events may have been missed meanwhile: take the next ones as they come.
    this._lastPresence.clear();
  }

  _subscribed(reply: SubscribedReply, since: StreamPosition | undefined, knownAtSend: number): void {
    this._inflight--;
    if (this._state === 'unsubscribed') return;
    this._state = 'subscribed';
    this._retries = 0;
    const latest = typeof reply.offset === 'number' ? reply.offset : undefined;
    const epoch = typeof reply.epoch === 'string' ? reply.epoch : undefined;

    if (since) {
      if (epoch !== undefined && epoch !== since.epoch) {
        this._switchEpoch(epoch, latest ?? 0);
      } else if (reply.recovered !== true) {
        this._notRecovered(latest);
      } else {
        this._holesBelow = Math.max(this._holesBelow, knownAtSend);
        if (latest !== undefined) this._known = Math.max(this._known, latest);
      }
    } else if (!this._baselined) {
      // A fresh subscription delivers what comes after the channel's latest
      // offset at the time of the reply.
      this._baselined = true;
      this._offset = latest;
      this._epoch = epoch;
      if (latest !== undefined) this._known = this._holesBelow = latest;
      const early = this._early;
      this._early = [];
      for (const m of early) this._message(m);
    } else {
      // Baselined without an epoch (the server had none to give): adopt it.
      if (this._epoch === undefined && epoch !== undefined) this._epoch = epoch;
      if (latest !== undefined) this._known = Math.max(this._known, latest);
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
  _subscribeFailed(error: LrwError, permanent: boolean): void {
    this._inflight--;
    if (permanent && this._state !== 'unsubscribed') {
      this._close(error);
      this._call(this._opts.onError, error);
    } else if (this._state !== 'unsubscribed') {
      this._check();
    }
  }

  /** Marks the subscription gone locally; no callback is called after this. */
  _close(reason: LrwError): void {
    this._state = 'unsubscribed';
    if (this._gapTimer !== undefined) clearTimeout(this._gapTimer);
    if (this._retryTimer !== undefined) clearTimeout(this._retryTimer);
    this._gapTimer = this._retryTimer = undefined;
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
  _ownPublish(offset: number): void {
    if (this._state === 'unsubscribed') return;
    const m: Held = { type: 'message', channel: this.channel, data: undefined, offset, epoch: this._epoch as string, [OWN]: true };
    this._message(m);
  }

  _message(m: Held): void {
    if (this._state === 'unsubscribed') return;
    if (m[OWN] && this._baselined) m.epoch = this._epoch ?? m.epoch;
    if (!this._baselined) {
      if (this._early.length < MAX_HELD) this._early.push(m);
      return;
    }
    if (this._offset === undefined) {
      this._offset = m.offset - 1;
      this._known = this._holesBelow = this._offset;
    }
    if (this._epoch === undefined) {
      this._epoch = m.epoch;
    } else if (m.epoch !== this._epoch) {
      if (this._inflight > 0) {
        // The reply in flight tells whether this epoch is the channel's now.
        if (this._otherEpoch.length < MAX_HELD) this._otherEpoch.push(m);
        return;
      }
      this._switchEpoch(m.epoch, m.offset - 1);
    }
    if (m.offset <= this._offset || this._buffer.has(m.offset)) {
      if (this._skipped.delete(m.offset) && !m[OWN]) {
        const position = { offset: this._offset, epoch: this._epoch };
        this._report({ channel: this.channel, reason: 'late', previous: this.position, current: position, message: m });
      }
      return; // seen
    }
    if (this._buffer.size >= MAX_HELD) {
      // Far too much is missing to hold on: report and go on from here.
      this._notRecovered(m.offset - 1);
    }
    this._buffer.set(m.offset, m);
    if (m.offset > this._known) this._known = m.offset;
    this._check();
  }

  _presence(event: PresenceEvent): void {
    if (this._state === 'unsubscribed') return;
    // During a rollover both sockets get each event, in no set order across
    // the two: pass on a change, not the same event again.
    if (this._lastPresence.get(event.subject) === event.type) return;
    if (this._lastPresence.size >= MAX_HELD) this._lastPresence.clear();
    this._lastPresence.set(event.subject, event.type);
    this._call(this._opts.onPresence, event);
    this._call(event.type === 'join' ? this._opts.onJoin : this._opts.onLeave, event.subject, event);
  }

  // ---- stream --------------------------------------------------------------

  private _deliver(m: Held): void {
    this._buffer.delete(m.offset);
    this._offset = m.offset;
    if (!m[OWN]) this._call(this._opts.onMessage, m);
  }

  /** Delivers what is contiguous; starts or stops the gap timer. */
  private _check(): void {
    if (this._state === 'unsubscribed' || this._offset === undefined) return;
    let next: Message | undefined;
    while ((next = this._buffer.get(this._offset + 1)) !== undefined) this._deliver(next);
    if (this._known > this._offset) {
      if (this._gapTimer === undefined) {
        this._gapTimer = later(() => this._gapDue(), this._host.gapWaitMs);
      }
    } else if (this._gapTimer !== undefined) {
      clearTimeout(this._gapTimer);
      this._gapTimer = undefined;
    }
  }

  private _gapDue(): void {
    this._gapTimer = undefined;
    if (this._state === 'unsubscribed' || this._offset === undefined) return;
    if (this._inflight > 0) {
      // Its reply will check again.
      return;
    }
    // Skip the holes a recovered replay confirmed, delivering what lies between.
    while (this._offset < this._holesBelow) {
      const m = this._buffer.get(this._offset + 1);
      if (m) this._deliver(m);
      else {
        this._offset++;
        this._skipped.add(this._offset);
        if (this._skipped.size > 1_000) this._skipped.delete(this._skipped.values().next().value as number);
      }
    }
    let next: Message | undefined;
    while ((next = this._buffer.get(this._offset + 1)) !== undefined) this._deliver(next);
    if (this._known > this._offset) this._host.resubscribeForGap(this);
  }

  /** recovered:false: deliver what we hold up to `latest`, go on from there, report. */
  private _notRecovered(latest: number | undefined): void {
    const previous = this.position;
    const held = [...this._buffer.values()].sort((a, b) => a.offset - b.offset);
    for (const m of held) if (latest === undefined || m.offset <= latest) this._deliver(m);
    if (latest !== undefined && (this._offset === undefined || latest > this._offset)) this._offset = latest;
    const offset = this._offset ?? 0;
    this._known = Math.max(this._known, offset);
    this._holesBelow = Math.max(this._holesBelow, offset);
    this._report({ channel: this.channel, reason: 'not_recovered', previous, current: { offset, epoch: this._epoch } });
  }

  /** A new epoch: history was lost. Deliver what we hold of the old one, then start over. */
  private _switchEpoch(epoch: string, base: number): void {
    const previous = this.position;
    const held = [...this._buffer.values()].sort((a, b) => a.offset - b.offset);
    for (const m of held) this._deliver(m);
    this._epoch = epoch;
    this._offset = this._known = this._holesBelow = base;
    this._skipped.clear();
    this._report({ channel: this.channel, reason: 'epoch_changed', previous, current: { offset: base, epoch } });
  }

  private _report(info: RecoveryFailure): void {
    this._call(this._opts.onRecoveryFailed, info);
    this._host.recoveryFailed(info);
  }

  private _call<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
    if (!fn) return;
    try {
      fn(...args);
    } catch (error) {
      this._host.report(error);
    }
  }
}
