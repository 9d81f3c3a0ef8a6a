//! The domain of the WebSocket channel service: channel names, connections,
//! the ports a handler talks through, the fan-out with its exact accounting,
//! the in-memory adapter and the configuration types.
//!
//! - Domain: [`ChannelName`], [`Connection`], [`publish()`] and its
//!   [`PublishReport`], configuration ([`config`]).
//! - Ports: [`ConnectionStore`] (who is in which channel) and
//!   [`ConnectionNotifier`] (send bytes to one connection).
//! - In-memory adapter: [`memory::MemoryStore`] (the local gateway's embedded
//!   store). Test doubles sit behind the `testing` feature ([`testing`]).
//!
//! # Which way dependencies point
//!
//! Everything else depends on this crate; this crate depends on no AWS SDK
//! crate and on none of the workspace's crates. The AWS adapters (DynamoDB,
//! API Gateway Management API, and those to come) live in `channels-aws`,
//! which implements these ports; the Lambda handlers (`rx`, `http`) use the
//! ports and their `main`s wire in the adapters; the local gateway wires in
//! either. Nothing here may name a type of an AWS SDK: the compiler keeps it
//! so, because none is in scope.

pub mod brake;
pub mod channel;
pub mod config;
pub mod connection;
pub mod job;
pub mod memory;
pub mod notifier;
pub mod publish;
pub mod shard;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;

pub use channel::{ChannelError, ChannelName, DEFAULT_CHANNEL};
pub use connection::{Connection, CONNECTION_TTL_SECS, MAX_MESSAGE_BYTES};
pub use notifier::{ConnectionNotifier, NotifyError};
pub use publish::{publish, PublishOptions, PublishReport};
pub use shard::{Shards, MAX_SHARDS};
pub use store::{count, ConnectionStore, Page, StoreError};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
