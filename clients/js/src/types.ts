// Frames of protocol lrw.v1 (ARCHITECTURE.md, "Client protocol v1") and the
// shapes the client hands to the application.

/** The subprotocol this client negotiates. */
export const PROTOCOL = 'lrw.v1';

/** Connection state of a {@link Client}. */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** State of a {@link Subscription}. */
export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed';

/** A position in a channel's stream: the last offset held, in an epoch. */
export interface StreamPosition {
  offset: number;
  epoch: string;
}

/** `{"type":"message",…}`: one publish to a channel. */
export interface Message {
  type: 'message';
  channel: string;
  /** The published JSON value (a string for a non-JSON HTTP body). */
  data: unknown;
  offset: number;
  epoch: string;
  /** Token subject of a socket publisher, stamped by the server. */
  from?: string;
  /** `"base64"` when `data` is the base64 text of a non-UTF-8 HTTP body. */
  encoding?: 'base64';
}

/** `{"type":"join"|"leave",…}`: a subject's first membership came or its last went. */
export interface PresenceEvent {
  type: 'join' | 'leave';
  channel: string;
  subject: string;
}

/** `{"type":"subscribed",…}` */
export interface SubscribedReply {
  type: 'subscribed';
  id?: string;
  channel: string;
  /** The channel's latest offset when the server answered. */
  offset?: number;
  epoch?: string;
  /** Present when the subscribe carried `since`. */
  recovered?: boolean;
  [extra: string]: unknown;
}

/** `{"type":"unsubscribed",…}` */
export interface UnsubscribedReply {
  type: 'unsubscribed';
  id?: string;
  channel: string;
}

/** `{"type":"published",…}`: synchronous, asynchronous (`mode:"async"`) or duplicate. */
export interface PublishReply {
  type: 'published';
  id?: string;
  channel: string;
  offset: number;
  recipients?: number;
  delivered?: number;
  gone?: number;
  failed?: number;
  publishId?: string;
  mode?: 'async';
  duplicate?: boolean;
  [extra: string]: unknown;
}

/** `{"type":"presence",…}` */
export interface PresenceReply {
  type: 'presence';
  id?: string;
  channel: string;
  connections: number;
  subjects: string[];
}

/** `{"type":"pong",…}`; `id` is absent where API Gateway answers ping itself. */
export interface PongReply {
  type: 'pong';
  id?: string;
}

/** `{"type":"error",…}` */
export interface ErrorReply {
  type: 'error';
  id?: string;
  code: number;
  message: string;
}

export type ServerFrame =
  | Message
  | PresenceEvent
  | SubscribedReply
  | UnsubscribedReply
  | PublishReply
  | PresenceReply
  | PongReply
  | ErrorReply;

/** Why a subscription could not be recovered without loss. */
export interface RecoveryFailure {
  channel: string;
  /**
   * `not_recovered`: the server answered `recovered:false` (history expired,
   * trimmed or too long to replay). `epoch_changed`: the channel's epoch is
   * not the one the client held, so its history was lost. `late`: an offset
   * the client had skipped as a hole (a since-replay that answered
   * recovered:true did not have it) arrived after all, too late to deliver
   * in order; it is in `message` and was not given to onMessage.
   */
  reason: 'not_recovered' | 'epoch_changed' | 'late';
  /** What the client held before (absent if it held nothing yet). */
  previous?: StreamPosition;
  /** Where the subscription goes on from. */
  current: { offset: number; epoch?: string };
  /** For `late`: the message that came too late. */
  message?: Message;
}

/** Why getToken is called. */
export type TokenReason = 'connect' | 'expiring' | 'handshake' | 'unauthorized';

/** The part of the WebSocket API the client uses (browsers' and `ws`'s both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => unknown) | null;
  onclose: ((ev: any) => unknown) | null;
  onerror: ((ev: any) => unknown) | null;
  onmessage: ((ev: any) => unknown) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;
