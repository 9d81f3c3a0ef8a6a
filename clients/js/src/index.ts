// lambda-rust-websocket: browser client of protocol lrw.v1.
export { Client } from './client.js';
export type { ClientOptions, ClientEvents, PublishOptions } from './client.js';
export { Subscription } from './subscription.js';
export type { SubscriptionOptions } from './subscription.js';
export { LrwError, backoffDelay, tokenExpiry, isChannelName } from './util.js';
export type { ErrorCode } from './util.js';
export { PROTOCOL } from './types.js';
export type {
  ClientState,
  SubscriptionState,
  StreamPosition,
  Message,
  PresenceEvent,
  SubscribedReply,
  UnsubscribedReply,
  PublishReply,
  PresenceReply,
  PongReply,
  ErrorReply,
  ServerFrame,
  RecoveryFailure,
  TokenReason,
  WebSocketLike,
  WebSocketConstructor,
} from './types.js';
