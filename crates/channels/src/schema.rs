//! The DynamoDB table layout, shared by the adapter (`channels-aws`), the
//! stream handler that reads membership images, the local gateway and
//! (checked by a test) the Terraform in `terraform/dynamodb.tf`. Plain
//! names: nothing here needs an SDK.
//!
//! # One table, generic keys, five item types
//!
//! | item             | `pk`            | `sk`               | other attributes                                                                 | TTL |
//! |------------------|-----------------|--------------------|----------------------------------------------------------------------------------|-----|
//! | connection       | `conn#{id}`     | `conn`             | `protocol`, `grants`, `publish`, `subject`, `issuer`, `tokenExpiresAt`, `subscriptions`, `connectedAt` | yes |
//! | membership       | `conn#{id}`     | `sub#{channel}`    | `channel`, `shard`, `channelShard`, `connectionId`, `protocol`, `subject`, `subscribedAt` | yes |
//! | channel counter  | `chan#{channel}`| `offset`           | `offset`, `epoch`                                                                | no  |
//! | history message  | `chan#{channel}`| `msg#{offset:020}` | `offset`, `kind`, `body`, `from`                                                 | yes |
//! | publish key      | `chan#{channel}`| `key#{key}`        | `offset` (once the publish has one)                                              | yes |
//!
//! Every item has `type` (its item type) and, but the counter, `expiresAt`
//! (epoch seconds), the table's TTL attribute; reads filter expired items,
//! since TTL deletes them only some time later.
//!
//! A connection's items share its partition, so `$disconnect` (and a 410
//! Gone) finds all of them with one strongly consistent `Query` on
//! `conn#{id}` and deletes them; a channel's counter, history and publish
//! keys share the channel's partition, so a replay is one `Query` on a
//! range of `sk`.
//!
//! # The channel index
//!
//! Memberships alone carry `channelShard` (`{channel}#{shard}`) and
//! `connectionId`, the keys of the sparse global secondary index
//! `channel-shard-index`. A channel is spread over S shards
//! (`CHANNEL_SHARDS`, fixed per deployment; the shard is a stable hash of the
//! connection id, see `channels::Shards`), so a hot channel gains members S
//! partitions at a time and is read S ways at once. The index projects what
//! fan-out and presence need and nothing more: `protocol` (which framing a
//! member gets), `subject` (who, for presence) and `expiresAt` (to filter
//! the expired). `#` cannot occur in a channel name, so keys are
//! unambiguous.
//!
//! What each lookup costs is in `docs/design.md`.

/// Table partition key.
pub const PK: &str = "pk";
/// Table sort key.
pub const SK: &str = "sk";
/// The item type: one of [`ItemType`]'s names.
pub const TYPE: &str = "type";
/// The table's TTL attribute, epoch seconds.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// Global secondary index listing a channel's members, shard by shard.
pub const CHANNEL_INDEX: &str = "channel-shard-index";
/// Partition key of [`CHANNEL_INDEX`]: [`partition`] of the channel and shard.
pub const INDEX_HASH_KEY: &str = "channelShard";
/// Sort key of [`CHANNEL_INDEX`]: the member's connection id.
pub const INDEX_RANGE_KEY: &str = "connectionId";
/// Non-key attributes [`CHANNEL_INDEX`] projects (`INCLUDE` projection).
pub const INDEX_PROJECTED: &[&str] = &[PROTOCOL, SUBJECT, TTL_ATTRIBUTE];

/// `raw` or `lrw.v1`.
pub const PROTOCOL: &str = "protocol";
/// The token's `sub`, when it has one.
pub const SUBJECT: &str = "subject";
/// The identity provider of a connection's token, when not ours.
pub const ISSUER: &str = "issuer";
/// The channel of a membership.
pub const CHANNEL: &str = "channel";
/// The shard of a membership.
pub const SHARD: &str = "shard";
/// Subscribe patterns of a connection (string set).
pub const GRANTS: &str = "grants";
/// Publish patterns of a connection (string set).
pub const PUBLISH_GRANTS: &str = "publish";
/// The token's `exp`: commands after it answer 401.
pub const TOKEN_EXPIRES_AT: &str = "tokenExpiresAt";
/// How many memberships a connection has (conditional counter).
pub const SUBSCRIPTIONS: &str = "subscriptions";
/// When the connection was accepted, epoch milliseconds.
pub const CONNECTED_AT: &str = "connectedAt";
/// When a membership was stored, epoch milliseconds (not projected into
/// the index: presence reads it from the table and the stream).
pub const SUBSCRIBED_AT: &str = "subscribedAt";
/// A channel's last offset (counter), or a message's offset (history, key).
pub const OFFSET: &str = "offset";
/// When a publish key was claimed, Unix seconds.
pub const CLAIMED_AT: &str = "claimedAt";
/// A channel's epoch: random, fixed while its counter item exists.
pub const EPOCH: &str = "epoch";
/// How a history message's `body` is framed: `json`, `text` or `binary`.
pub const KIND: &str = "kind";
/// A history message's body (binary attribute).
pub const BODY: &str = "body";
/// The `sub` of a socket publish's sender.
pub const FROM: &str = "from";

/// The item types, as stored in [`TYPE`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemType {
    Connection,
    Membership,
    Counter,
    Message,
    PublishKey,
}

impl ItemType {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Connection => "connection",
            Self::Membership => "membership",
            Self::Counter => "counter",
            Self::Message => "message",
            Self::PublishKey => "publishKey",
        }
    }
}

/// `pk` of a connection's items.
pub fn connection_pk(connection_id: &str) -> String {
    format!("conn#{connection_id}")
}

/// `sk` of a connection item.
pub const CONNECTION_SK: &str = "conn";

/// Prefix of the `sk` of every membership item; what the membership
/// stream filter matches.
pub const MEMBERSHIP_SK_PREFIX: &str = "sub#";

/// `sk` of a membership.
pub fn membership_sk(channel: &str) -> String {
    format!("{MEMBERSHIP_SK_PREFIX}{channel}")
}

/// `pk` of a channel's counter, history and publish keys.
pub fn channel_pk(channel: &str) -> String {
    format!("chan#{channel}")
}

/// `sk` of a channel's counter.
pub const COUNTER_SK: &str = "offset";

/// Prefix of the `sk` of history messages.
pub const MESSAGE_SK_PREFIX: &str = "msg#";

/// `sk` of the history message with `offset`: zero-padded, so that the
/// string order is the numeric order.
pub fn message_sk(offset: u64) -> String {
    format!("{MESSAGE_SK_PREFIX}{offset:020}")
}

/// `sk` of a publish key.
pub fn publish_key_sk(key: &str) -> String {
    format!("key#{key}")
}

/// The index partition of one shard of a channel: `{channel}#{shard}`.
pub fn partition(channel: &str, shard: u16) -> String {
    format!("{channel}#{shard}")
}

/// The DynamoDB actions each function's code calls, by function (as
/// Terraform names it) and on what: `[table, channel index, stream]`. A
/// call added to the adapter goes here too, and the contract tests fail
/// until the function's role allows it (and no more). `TransactWriteItems`
/// needs the per-item actions (here `PutItem`, `UpdateItem`, `DeleteItem`);
/// there is no action of its own. Every function that fans out reads a
/// connection reported gone (`GetItem`) before it deletes its items.
pub const DYNAMODB_ACTIONS: &[(&str, [&[&str]; 3])] = &[
    ("rx", [&["PutItem", "Query", "BatchWriteItem"], &[], &[]]),
    (
        "http",
        [
            &[
                "GetItem",
                "PutItem",
                "UpdateItem",
                "DeleteItem",
                "Query",
                "BatchWriteItem",
            ],
            &["Query"],
            &[],
        ],
    ),
    (
        "commands",
        [
            &[
                "GetItem",
                "PutItem",
                "UpdateItem",
                "DeleteItem",
                "Query",
                "BatchWriteItem",
            ],
            &["Query"],
            &[],
        ],
    ),
    (
        "worker",
        [&["GetItem", "Query", "BatchWriteItem"], &["Query"], &[]],
    ),
    (
        "presence",
        [
            &["GetItem", "Query", "BatchWriteItem"],
            &["Query"],
            &[
                "DescribeStream",
                "GetRecords",
                "GetShardIterator",
                "ListStreams",
            ],
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_keys_sort_by_offset() {
        let mut keys: Vec<String> = [10, 9, 100, 1, u64::MAX].map(message_sk).to_vec();
        keys.sort();
        assert_eq!(
            keys,
            [1, 9, 10, 100, u64::MAX].map(message_sk).to_vec(),
            "string order is numeric order"
        );
        assert_eq!(message_sk(42), "msg#00000000000000000042");
    }

    #[test]
    fn keys_of_different_items_never_collide() {
        // A channel named "offset" or "conn" still has distinct keys.
        assert_ne!(channel_pk("conn"), connection_pk("conn"));
        assert_ne!(membership_sk("conn"), CONNECTION_SK);
        assert_ne!(message_sk(0), COUNTER_SK);
        assert!(publish_key_sk("offset").starts_with("key#"));
    }
}
