//! The DynamoDB table layout, shared by the adapter, its tests, the local
//! gateway and (checked by a test) the Terraform in `terraform/dynamodb.tf`.
//!
//! # Key design
//!
//! One item per connection:
//!
//! | attribute      | type | role                                          |
//! |----------------|------|-----------------------------------------------|
//! | `connectionId` | S    | table partition key; index sort key           |
//! | `channel`      | S    | index partition key                           |
//! | `connectedAt`  | N    | epoch milliseconds                            |
//! | `expiresAt`    | N    | epoch seconds; the table's TTL attribute      |
//!
//! The two lookups and what they cost:
//! - **The connection at `$disconnect`** (and on a 410 Gone): API Gateway gives
//!   only the connection id, so the table is keyed by it. `DeleteItem` by key:
//!   1 WCU on the table plus 1 on the index, no read first, idempotent.
//! - **Members of a channel** (publish, count): a `Query` on the global
//!   secondary index `channel-index` (partition `channel`, sort
//!   `connectionId`). It reads only that channel's items, 0.5 RCU per 4 KiB
//!   (eventually consistent, the only kind a GSI offers), in pages of at most
//!   1 MB that the adapter follows with `ExclusiveStartKey`. The index
//!   projects the keys and `expiresAt` only, so an item is ~60–200 bytes and
//!   one page holds thousands of members.
//!
//! `$connect` is one `PutItem`: 1 WCU on the table plus 1 on the index.

/// Table partition key: the API Gateway connection id.
pub const TABLE_HASH_KEY: &str = "connectionId";
/// Global secondary index used to list a channel's members.
pub const CHANNEL_INDEX: &str = "channel-index";
/// Partition key of [`CHANNEL_INDEX`].
pub const INDEX_HASH_KEY: &str = "channel";
/// Sort key of [`CHANNEL_INDEX`].
pub const INDEX_RANGE_KEY: &str = "connectionId";
/// Non-key attributes [`CHANNEL_INDEX`] projects (`INCLUDE` projection).
pub const INDEX_PROJECTED: &[&str] = &["expiresAt"];
/// When the connection was accepted, epoch milliseconds.
pub const CONNECTED_AT: &str = "connectedAt";
/// The table's TTL attribute, epoch seconds.
pub const TTL_ATTRIBUTE: &str = "expiresAt";
