//! Domain, ports and adapters of the WebSocket channel service.
//!
//! - Domain: [`ChannelName`], [`Connection`], fan-out with exact accounting
//!   ([`publish()`]).
//! - Ports: [`ConnectionStore`] (who is in which channel) and
//!   [`ConnectionNotifier`] (send bytes to one connection).
//! - Adapters: DynamoDB ([`dynamo::DynamoStore`]), API Gateway Management API
//!   ([`apigw::ApiGatewayNotifier`]) and in-memory ([`memory`]).
//!
//! The `rx` and `http` crates hold the Lambda handlers; they only translate
//! API Gateway events to calls on this crate and back.

pub mod apigw;
pub mod channel;
pub mod config;
pub mod connection;
pub mod dynamo;
pub mod memory;
pub mod notifier;
pub mod publish;
pub mod schema;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use channel::{ChannelError, ChannelName, DEFAULT_CHANNEL};
pub use connection::{Connection, CONNECTION_TTL_SECS, MAX_MESSAGE_BYTES};
pub use notifier::{ConnectionNotifier, NotifyError};
pub use publish::{publish, PublishOptions, PublishReport};
pub use store::{ConnectionStore, Page, StoreError};

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
