//! The DynamoDB table layout, shared by the adapter, its tests, the local
//! gateway and (checked by a test) the Terraform in `terraform/dynamodb.tf`.
//!
//! # Key design
//!
//! One item per connection:
//!
//! | attribute      | type | role                                                  |
//! |----------------|------|-------------------------------------------------------|
//! | `connectionId` | S    | table partition key; index sort key                   |
//! | `channelShard` | S    | index partition key: `{channel}#{shard}`              |
//! | `channel`      | S    | the channel, for people reading the table             |
//! | `connectedAt`  | N    | epoch milliseconds                                    |
//! | `expiresAt`    | N    | epoch seconds; the table's TTL attribute              |
//!
//! A channel is spread over S shards (`CHANNEL_SHARDS`, fixed per
//! deployment; the shard is a stable hash of the connection id, see
//! `channels::Shards`): S partitions of the index instead of one. One index
//! partition absorbs about 1,000 writes a second, so a hot channel gains
//! members S times as fast, and its members can be read S ways at once.
//! (`#` cannot occur in a channel name, so the key is unambiguous.)
//!
//! The lookups and what they cost:
//! - **The connection at `$disconnect`** (and on a 410 Gone): API Gateway gives
//!   only the connection id, so the table is keyed by it. `DeleteItem` by key:
//!   1 WCU on the table plus 1 on the index, no read first, idempotent.
//! - **`$connect`**: one `PutItem`, 1 WCU on the table plus 1 on the index.
//! - **Members of a channel** (publish, count): one `Query` per shard on the
//!   global secondary index `channel-shard-index` (partition
//!   `channelShard`, sort `connectionId`), the S of them in parallel. Each
//!   reads only its shard, 0.5 RCU per 4 KiB (eventually consistent, the
//!   only kind a GSI offers), in pages of at most 1 MB that the adapter
//!   follows with `ExclusiveStartKey`. The index projects the keys and
//!   `expiresAt` only, so an item is ~60–200 bytes and one page holds
//!   thousands of members. A channel costs at least S × 0.5 RCU to list or
//!   count however small it is: the price of spreading the big ones.

/// Table partition key: the API Gateway connection id.
pub const TABLE_HASH_KEY: &str = "connectionId";
/// Global secondary index used to list a channel's members, shard by shard.
pub const CHANNEL_INDEX: &str = "channel-shard-index";
/// Partition key of [`CHANNEL_INDEX`]: [`partition`] of the channel and shard.
pub const INDEX_HASH_KEY: &str = "channelShard";
/// The channel name, a plain attribute.
pub const CHANNEL_ATTRIBUTE: &str = "channel";
/// Sort key of [`CHANNEL_INDEX`].
pub const INDEX_RANGE_KEY: &str = "connectionId";
/// Non-key attributes [`CHANNEL_INDEX`] projects (`INCLUDE` projection).
pub const INDEX_PROJECTED: &[&str] = &["expiresAt"];
/// When the connection was accepted, epoch milliseconds.
pub const CONNECTED_AT: &str = "connectedAt";
/// The table's TTL attribute, epoch seconds.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// The index partition of one shard of a channel: `{channel}#{shard}`.
pub fn partition(channel: &str, shard: u16) -> String {
    format!("{channel}#{shard}")
}
