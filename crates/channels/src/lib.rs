//! The domain of the WebSocket channel service: channel names and grants,
//! connections and their subscriptions, the client protocol `lrw.v1`,
//! publications and their two forms, the fan-out with its exact
//! accounting, offsets and recovery, presence, tokens, and the ports with
//! their in-memory adapters.
//!
//! | module | what |
//! |---|---|
//! | [`channel`], [`pattern`] | [`ChannelName`]; [`Pattern`]s and [`Grants`] |
//! | [`connection`] | [`Connection`], [`Membership`], [`Protocol`], the limits |
//! | [`protocol`] | `lrw.v1` commands and reply frames |
//! | [`message`] | [`message::Publication`], its raw form and envelope, positions |
//! | [`fanout`] | [`Fanout`]: publish, plan, deliver, shard runs |
//! | [`job`] | shard jobs and the [`job::PublishQueue`] port |
//! | [`history`] | recovery after a reconnect |
//! | [`presence`] | who is in a channel; join and leave events |
//! | [`store`] | the [`Store`] port |
//! | [`notifier`] | the [`ConnectionNotifier`] port |
//! | [`memory`] | the in-memory [`Store`] |
//! | [`token`] | subscriber tokens: verify, mint |
//! | [`schema`] | the DynamoDB table layout (data model) |
//! | [`config`] | configuration from the environment |
//!
//! # Which way dependencies point
//!
//! Everything else depends on this crate; this crate depends on no AWS SDK
//! crate and on none of the workspace's crates. The AWS adapters (DynamoDB,
//! API Gateway Management API, KMS, SQS) live in `channels-aws`, which
//! implements these ports; the Lambda handlers take the ports and their
//! binaries wire in the adapters; the local gateway wires in either. Nothing
//! here may name a type of an AWS SDK: the compiler keeps it so, because
//! none is in scope.

pub mod brake;
pub mod channel;
pub mod config;
pub mod connection;
pub mod fanout;
pub mod history;
pub mod job;
pub mod memory;
pub mod message;
pub mod notifier;
pub mod pattern;
pub mod presence;
pub mod protocol;
pub mod report;
pub mod schema;
pub mod shard;
pub mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;

pub use channel::{ChannelError, ChannelName, DEFAULT_CHANNEL};
pub use connection::{
    Connection, Membership, Protocol, CONNECTION_TTL_SECS, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES,
    MAX_SUBSCRIPTIONS, SUBPROTOCOL,
};
pub use fanout::{Fanout, History, PublishOptions, PublishReport};
pub use notifier::{ConnectionNotifier, NotifyError};
pub use pattern::{Grants, Pattern, PatternError};
pub use shard::{Shards, MAX_SHARDS};
pub use store::{count, KeyClaim, Member, Page, Store, StoreError, Subscribed};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
